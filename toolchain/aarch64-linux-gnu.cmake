# CMake toolchain: cross-compile Bramble for Raspberry Pi (arm64) against a
# Debian 13 (trixie) sysroot, and run target programs (CTest, try_run) under
# qemu-user.
#
#   cmake --preset rpi-arm64            # or
#   cmake -B build/rpi-arm64 -DCMAKE_TOOLCHAIN_FILE=toolchain/aarch64-linux-gnu.cmake
#
# The sysroot is built by toolchain/sysroot.sh into ${CMAKE_BINARY_DIR}/sysroot
# (override with -DBRM_SYSROOT=/some/dir to share one between build trees).
# Host tools: gcc-aarch64-linux-gnu, qemu-user-static, pkg-config, dpkg, apt.
#
# CMake reads a toolchain file several times: once per configure step of the
# top-level project and once per try_compile project (where CMAKE_BINARY_DIR
# is a scratch directory).  The sysroot is therefore only (re)built from the
# top-level project, once per cmake run, and its path is kept in the cache
# variable BRM_SYSROOT, which is forwarded to try_compile projects through
# CMAKE_TRY_COMPILE_PLATFORM_VARIABLES.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(BRM_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${BRM_TRIPLET}-gcc)

get_property(_brm_in_try_compile GLOBAL PROPERTY IN_TRY_COMPILE)
get_property(_brm_sysroot_checked GLOBAL PROPERTY BRM_SYSROOT_CHECKED)
if(NOT _brm_in_try_compile AND NOT _brm_sysroot_checked)
  if(NOT BRM_SYSROOT)
    set(BRM_SYSROOT "${CMAKE_BINARY_DIR}/sysroot")
  endif()
  get_filename_component(BRM_SYSROOT "${BRM_SYSROOT}" ABSOLUTE BASE_DIR "${CMAKE_BINARY_DIR}")
  execute_process(
    COMMAND bash "${CMAKE_CURRENT_LIST_DIR}/sysroot.sh" "${BRM_SYSROOT}"
    RESULT_VARIABLE _brm_rc)
  if(NOT _brm_rc EQUAL 0)
    message(FATAL_ERROR
      "Building the Debian trixie arm64 sysroot failed (toolchain/sysroot.sh "
      "${BRM_SYSROOT}, exit ${_brm_rc}); see the error above.")
  endif()
  set(BRM_SYSROOT "${BRM_SYSROOT}" CACHE PATH "Debian trixie arm64 sysroot" FORCE)
  set_property(GLOBAL PROPERTY BRM_SYSROOT_CHECKED TRUE)
endif()
if(NOT BRM_SYSROOT OR NOT EXISTS "${BRM_SYSROOT}/.complete")
  message(FATAL_ERROR "arm64 sysroot not available (BRM_SYSROOT='${BRM_SYSROOT}')")
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES BRM_SYSROOT)

set(CMAKE_SYSROOT "${BRM_SYSROOT}")
set(_brm_libdir "${BRM_SYSROOT}/usr/lib/${BRM_TRIPLET}")

# Debian's cross gcc searches its own /usr/aarch64-linux-gnu/{include,lib}
# (bookworm's glibc 2.36 from libc6-dev-arm64-cross) BEFORE the sysroot, and
# --sysroot does not change that.  So:
#  * headers: -nostdinc, then gcc's own header dir and the sysroot's, in the
#    order gcc would normally use;
#  * crt*.o / libc: -B and -L into the sysroot's multiarch lib dir.
if(NOT BRM_GCC_INCLUDE_DIR)
  execute_process(
    COMMAND ${CMAKE_C_COMPILER} -print-file-name=include
    OUTPUT_VARIABLE BRM_GCC_INCLUDE_DIR
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _brm_rc)
  if(NOT _brm_rc EQUAL 0 OR NOT IS_DIRECTORY "${BRM_GCC_INCLUDE_DIR}")
    message(FATAL_ERROR "${CMAKE_C_COMPILER} not usable (install gcc-aarch64-linux-gnu)")
  endif()
  set(BRM_GCC_INCLUDE_DIR "${BRM_GCC_INCLUDE_DIR}" CACHE INTERNAL "")
endif()

set(CMAKE_C_FLAGS_INIT
  "-nostdinc -isystem ${BRM_GCC_INCLUDE_DIR} -isystem ${BRM_SYSROOT}/usr/include/${BRM_TRIPLET} -isystem ${BRM_SYSROOT}/usr/include -B${_brm_libdir}/")
set(_brm_link_flags "-B${_brm_libdir}/ -L${_brm_libdir} -Wl,-rpath-link,${_brm_libdir}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_brm_link_flags}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_brm_link_flags}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${_brm_link_flags}")

# find_*: libraries, headers and packages only from the sysroot; programs
# (protoc-c, pkg-config) only from the build host.
set(CMAKE_FIND_ROOT_PATH "${BRM_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (host binary) reads only the sysroot's .pc files and prefixes
# the -I/-L paths it prints with the sysroot.
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${BRM_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
  "${BRM_SYSROOT}/usr/lib/${BRM_TRIPLET}/pkgconfig:${BRM_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Run target binaries (add_test() of executable targets, try_run) under
# qemu-user with the sysroot's dynamic loader and libraries.
if(NOT BRM_QEMU_AARCH64)
  find_program(BRM_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64
               NO_CMAKE_FIND_ROOT_PATH)
  if(NOT BRM_QEMU_AARCH64)
    message(WARNING "qemu-aarch64-static not found (install qemu-user-static): "
                    "arm64 tests cannot run on this host")
    set(BRM_QEMU_AARCH64 qemu-aarch64-static)
  endif()
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR "${BRM_QEMU_AARCH64};-L;${BRM_SYSROOT}")
