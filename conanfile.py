# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""Conan 2 recipe for vprim, a header-only library.

CUDA pieces come from the consumer's own toolkit: no cub/thrust requirement here.
"""
import os
import re

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class VprimConan(ConanFile):
    name = "vprim"
    description = ("Header-only C++20 kernels (xsimd CPU, CUDA) for DeepSeek's "
                   "Thinking-with-Visual-Primitives model")
    license = "Apache-2.0"
    topics = ("header-only", "deepseek", "vision-language", "kernels", "simd", "cuda")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    no_copy_source = True
    exports_sources = "include/*", "LICENSE"

    def set_version(self):
        text = load(self, os.path.join(self.recipe_folder, "include", "vprim", "version.hpp"))
        parts = [re.search(rf"#define VPRIM_VERSION_{p} (\d+)", text).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
        self.version = ".".join(parts)

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        # xsimd appears in public headers, so it is transitive. (Eigen is no dependency: no
        # header uses it; vprim's own GEMM benchmark compares against it.)
        self.requires("xsimd/8.1.0", transitive_headers=True)

    def package_id(self):
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, 20)

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", os.path.join(self.source_folder, "include"), os.path.join(self.package_folder, "include"))
        copy(self, "*.cuh", os.path.join(self.source_folder, "include"), os.path.join(self.package_folder, "include"))

    def package_info(self):
        # Same file and target names as vprim's own CMake export.
        self.cpp_info.set_property("cmake_file_name", "vprim")
        self.cpp_info.set_property("cmake_target_name", "vprim::vprim")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.requires = ["xsimd::xsimd"]
