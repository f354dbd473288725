# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# cmake -DCXX=... -DINCLUDE=... -DSOURCE=... -DEXPECT_REGEX=... -P expect_compile_error.cmake
# Passes when SOURCE fails to compile and the diagnostic matches EXPECT_REGEX: checks that a bad
# policy is rejected with a message that names the field.
execute_process(COMMAND "${CXX}" -std=c++20 -fsyntax-only -I "${INCLUDE}" "${SOURCE}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it should have been rejected")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT_REGEX}")
  message("${out}${err}")
  message(FATAL_ERROR "diagnostic does not mention '${EXPECT_REGEX}'")
endif()
message("rejected as expected: matched '${EXPECT_REGEX}'")
