// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file executor.hpp
//! How CPU kernels run in parallel. A kernel takes any type modelling `executor` and calls
//! `parallel_for(n, body)` with `body(begin, end)` over a partition of [0, n). An engine hands in
//! its own thread pool by writing a small adapter; vprim ships a serial executor and a
//! std::thread pool.

#include <algorithm>
#include <atomic>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "vprim/core/config.hpp"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#endif

VPRIM_NAMESPACE_BEGIN

namespace detail {
//! One turn of a spin-wait: a pause where the CPU has one, so the waiting core yields its
//! pipeline to the other hyperthread and does not flood the memory system.
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

struct range_body_archetype {
  void operator()(std::int64_t, std::int64_t) const {}
};
}  // namespace detail

//! An executor runs body(begin, end) over disjoint ranges that cover [0, n), possibly in
//! parallel, and returns when every range is done. concurrency() is the parallelism to plan for.
template <class E>
concept executor = requires(E& e, std::int64_t n, detail::range_body_archetype body) {
  { e.concurrency() } -> std::convertible_to<int>;
  e.parallel_for(n, body);
};

//! Runs everything on the calling thread.
struct serial_executor {
  [[nodiscard]] int concurrency() const noexcept { return 1; }
  template <class Body>
  void parallel_for(std::int64_t n, Body&& body) const {
    if (n > 0) body(std::int64_t{0}, n);
  }
};

//! A fixed pool of std::threads; the calling thread takes part. [0, n) is split into
//! concurrency() contiguous chunks (static partition: kernels size their work items so that
//! chunks cost about the same). A parallel_for issued from inside a worker runs serially,
//! so nested kernels cannot deadlock the pool.
//! Workers and the caller spin for a short while (spin_turns pauses, some tens of
//! microseconds) before they sleep on a condition variable: a decode step is hundreds of
//! parallel regions a few microseconds apart, and waking a sleeping thread costs more than
//! many of them.
class thread_pool_executor {
 public:
  //! Bodies must not throw (kernels report through status). threads <= 0 means std::thread::hardware_concurrency().
  explicit thread_pool_executor(int threads = 0) {
    int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    workers_.reserve(static_cast<std::size_t>(n - 1));
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }
  thread_pool_executor(const thread_pool_executor&) = delete;
  thread_pool_executor& operator=(const thread_pool_executor&) = delete;
  ~thread_pool_executor() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  [[nodiscard]] int concurrency() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  template <class Body>
  void parallel_for(std::int64_t n, Body&& body) {
    if (n <= 0) return;
    const int parts = static_cast<int>(std::min<std::int64_t>(concurrency(), n));
    if (parts == 1 || inside_worker()) {
      body(std::int64_t{0}, n);
      return;
    }
    std::lock_guard submit(submit_mutex_);  // one parallel region at a time
    std::function<void(std::int64_t, std::int64_t)> task = [&body](std::int64_t b, std::int64_t e) { body(b, e); };
    {
      std::lock_guard lock(mutex_);
      task_ = &task;
      n_ = n;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    wake_.notify_all();
    inside_worker() = true;  // nested calls from part 0 run serially, as in the workers
    run_part(0);
    inside_worker() = false;
    for (int i = 0; i < spin_turns && pending_.load(std::memory_order_acquire) != 0; ++i) detail::spin_pause();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    task_ = nullptr;
  }

  //! Pauses a waiting thread spins through before it sleeps.
  static constexpr int spin_turns = 1 << 12;

 private:
  static bool& inside_worker() noexcept {
    thread_local bool flag = false;
    return flag;
  }
  void run_part(int part) {
    const std::int64_t begin = n_ * part / parts_;
    const std::int64_t end = n_ * (part + 1) / parts_;
    if (begin < end) (*task_)(begin, end);
  }
  void worker_loop(int index) {
    inside_worker() = true;
    std::uint64_t seen = 0;
    for (;;) {
      for (int i = 0; i < spin_turns && generation_.load(std::memory_order_acquire) == seen; ++i) detail::spin_pause();
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
        seen = generation_.load(std::memory_order_relaxed);
        if (stopping_) return;
        if (index >= parts_) continue;
      }
      run_part(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lock(mutex_);  // so the caller is either not yet waiting or already woken
        done_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex submit_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::function<void(std::int64_t, std::int64_t)>* task_ = nullptr;
  std::int64_t n_ = 0;
  int parts_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<std::uint64_t> generation_{0};  // written under mutex_; read by spinning workers without it
  bool stopping_ = false;
};

static_assert(executor<serial_executor>);
static_assert(executor<thread_pool_executor>);

VPRIM_NAMESPACE_END
