# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# Install rules: headers, the exported vprim::vprim (and vprim::cuda) targets, a config file
# that finds xsimd, and an architecture-independent version file.
include(CMakePackageConfigHelpers)

set(VPRIM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/vprim" CACHE STRING
  "Where vprim's CMake package files are installed")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/vprim" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(TARGETS vprim EXPORT vprim-targets)
install(EXPORT vprim-targets NAMESPACE vprim:: DESTINATION "${VPRIM_INSTALL_CMAKEDIR}")
export(EXPORT vprim-targets NAMESPACE vprim:: FILE "${PROJECT_BINARY_DIR}/vprim-targets.cmake")
if(TARGET vprim_cuda)
  install(TARGETS vprim_cuda EXPORT vprim-cuda-targets)
  install(EXPORT vprim-cuda-targets NAMESPACE vprim:: DESTINATION "${VPRIM_INSTALL_CMAKEDIR}")
endif()

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/vprim-config.cmake.in"
  "${PROJECT_BINARY_DIR}/vprim-config.cmake"
  INSTALL_DESTINATION "${VPRIM_INSTALL_CMAKEDIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/vprim-config-version.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/vprim-config.cmake" "${PROJECT_BINARY_DIR}/vprim-config-version.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/vprim_find_xsimd.cmake"
  DESTINATION "${VPRIM_INSTALL_CMAKEDIR}")
