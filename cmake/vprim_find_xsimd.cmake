# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# Finds xsimd 8. Some distributions' xsimd package links a target named `xtl` without looking
# for it; xsimd needs xtl only for its optional xtl::xcomplex support, which vprim does not use.
# So xtl is looked for first, and if it is absent an empty stand-in target keeps the link line
# valid.
if(NOT TARGET xtl)
  find_package(xtl QUIET)
endif()
if(NOT TARGET xsimd)
  find_package(xsimd 8.1 REQUIRED)
endif()
if(NOT TARGET xtl)
  get_target_property(_vprim_xsimd_links xsimd INTERFACE_LINK_LIBRARIES)
  if(_vprim_xsimd_links MATCHES "(^|;)xtl(;|$)")
    add_library(xtl INTERFACE IMPORTED)
  endif()
endif()
