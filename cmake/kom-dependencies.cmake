# kom's usage requirements, shared by the source tree's CMakeLists.txt (add_subdirectory,
# FetchContent) and the installed package (find_package(kom)): C++17, Boost 1.81+ (headers
# only) and mbedTLS. kom_link_dependencies(<target>) adds them to an INTERFACE target.
#
# KOM_USE_MBEDTLS (ON by default): OFF for a program without mbedTLS (firmware whose TLS is the
# platform's): kom is then compiled with KOM_USE_MBEDTLS=0 and links nothing.
include_guard(GLOBAL)
include(CMakeFindDependencyMacro)

option(KOM_USE_MBEDTLS "kom calls mbedTLS (TLS, random bytes, SHA-1, Base64)" ON)

function(kom_link_dependencies target)
  target_compile_features(${target} INTERFACE cxx_std_17)

  # Boost's own CMake package (Boost 1.70+ installs one; Debian's libboost1.81-dev has it),
  # else only the headers where the compiler finds them.
  find_package(Boost 1.81 CONFIG QUIET)
  if(TARGET Boost::headers)
    target_link_libraries(${target} INTERFACE Boost::headers)
  endif()
  target_compile_definitions(${target} INTERFACE BOOST_ALL_NO_LIB)

  if(NOT KOM_USE_MBEDTLS)
    target_compile_definitions(${target} INTERFACE KOM_USE_MBEDTLS=0)
    return()
  endif()
  # mbedTLS 3.x installs MbedTLSConfig.cmake (MbedTLS::mbedtls, ::mbedx509, ::mbedcrypto); 4.x
  # the same for TLS and X.509, its crypto coming from TF-PSA-Crypto. Debian's 2.28 has no
  # CMake package: the libraries and headers are found by name.
  find_package(MbedTLS CONFIG QUIET)
  if(TARGET MbedTLS::mbedtls)
    target_link_libraries(${target} INTERFACE MbedTLS::mbedtls MbedTLS::mbedx509)
    if(TARGET MbedTLS::mbedcrypto)
      target_link_libraries(${target} INTERFACE MbedTLS::mbedcrypto)
    endif()
    return()
  endif()
  find_path(KOM_MBEDTLS_INCLUDE_DIR mbedtls/ssl.h)
  find_library(KOM_MBEDTLS_LIBRARY mbedtls)
  find_library(KOM_MBEDX509_LIBRARY mbedx509)
  find_library(KOM_MBEDCRYPTO_LIBRARY mbedcrypto)
  if(NOT KOM_MBEDTLS_INCLUDE_DIR OR NOT KOM_MBEDTLS_LIBRARY OR NOT KOM_MBEDX509_LIBRARY OR NOT KOM_MBEDCRYPTO_LIBRARY)
    message(FATAL_ERROR "kom: mbedTLS not found (libmbedtls-dev on Debian, or CMAKE_PREFIX_PATH to an "
                        "mbedTLS install); set KOM_USE_MBEDTLS=OFF for a program without it")
  endif()
  target_include_directories(${target} INTERFACE ${KOM_MBEDTLS_INCLUDE_DIR})
  # Link order: TLS needs X.509 needs crypto.
  target_link_libraries(${target} INTERFACE ${KOM_MBEDTLS_LIBRARY} ${KOM_MBEDX509_LIBRARY} ${KOM_MBEDCRYPTO_LIBRARY})
endfunction()
