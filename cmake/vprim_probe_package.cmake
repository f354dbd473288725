# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# vprim_probe_package(<name> <out-var>): whether find_package(<name> REQUIRED CONFIG) succeeds,
# asked in a separate CMake run with the same generator and compiler. A peer's package config can fail configure even under QUIET
# (Debian's dnnl-config.cmake calls find_package(OpenCL REQUIRED)); probing it apart means a
# missing or broken peer only turns off the benchmark that compares against it.
function(vprim_probe_package name out_var)
  set(dir "${CMAKE_BINARY_DIR}/vprim_probe/${name}")
  file(REMOVE_RECURSE "${dir}/build")  # a fresh probe: an earlier one may have used another generator
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${dir}/CMakeLists.txt"
    "cmake_minimum_required(VERSION 3.21)\nproject(probe_${name} LANGUAGES CXX)\n"
    "find_package(${name} REQUIRED CONFIG)\n")
  execute_process(
    COMMAND "${CMAKE_COMMAND}" -S "${dir}" -B "${dir}/build" -G "${CMAKE_GENERATOR}"
            "-DCMAKE_MAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}" "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
            "-DCMAKE_PREFIX_PATH=${CMAKE_PREFIX_PATH}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    set(${out_var} TRUE PARENT_SCOPE)
  else()
    string(REGEX MATCH "Could NOT find [^\n]*" why "${err}")
    if(NOT why)
      string(REGEX MATCH "CMake Error[^\n]*" why "${err}")
    endif()
    message(STATUS "vprim: the ${name} package cannot be used (${why}); its benchmarks are off")
    set(${out_var} FALSE PARENT_SCOPE)
  endif()
endfunction()
