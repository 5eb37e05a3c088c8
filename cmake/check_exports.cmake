# Checks the dynamic symbol table of a shared libbpnet (ELF): the public API is exported, the
# internals are not.
#   cmake -DLIBRARY=<libbpnet.so> -DHEADERS=<folder of bpnet's public headers> [-DNM=<nm>]
#         -P check_exports.cmake
# Fails (FATAL_ERROR, listing the symbols) when
#   - a symbol of bpnet::kernels or bpnet::detail is exported, or one whose bpnet entity
#     (bpnet::<name> in the symbol's name, before its parameter list) is not declared in the
#     public headers: the gemm kernels, helpers of cpp/src, anonymous namespaces;
#   - a function the headers declare BPNET_API (at namespace scope) is missing, or
#     Network<float>, Network<double>, ThreadScope or the exception types' typeinfo (a
#     consumer's catch needs it) is.
# Template instantiations of the standard library (std::vector<double>::..., emitted where the
# library uses them) are exported too, as -fvisibility=hidden leaves them; they are counted,
# not checked.
# Run by the ctest exported_symbols (BUILD_SHARED_LIBS=ON) and by cpp/examples/check_install.sh.
cmake_minimum_required(VERSION 3.18)

if(NOT LIBRARY OR NOT EXISTS "${LIBRARY}")
  message(FATAL_ERROR "check_exports: LIBRARY='${LIBRARY}' is not a file (pass -DLIBRARY=<libbpnet.so>)")
endif()
if(NOT HEADERS OR NOT IS_DIRECTORY "${HEADERS}")
  message(FATAL_ERROR "check_exports: HEADERS='${HEADERS}' is not a folder (pass -DHEADERS=<.../include/bpnet>)")
endif()
if(NOT NM)
  set(NM nm)
endif()

# Every identifier of the public headers' code (comments removed), and the functions they
# declare BPNET_API at namespace scope (lines that start with BPNET_API; the classes are
# checked below). export.hpp itself only defines the macro.
file(GLOB _headers "${HEADERS}/*.hpp")
set(_code "")
set(_api_functions "")
foreach(_header IN LISTS _headers)
  file(READ "${_header}" _text)
  string(REGEX REPLACE "//[^\n]*" "" _text "${_text}")
  string(APPEND _code "${_text}\n")
  get_filename_component(_name "${_header}" NAME)
  if(NOT _name STREQUAL "export.hpp")
    string(REGEX MATCHALL "\nBPNET_API[^;{(]*[^A-Za-z0-9_][A-Za-z_][A-Za-z0-9_]*\\(" _decls "${_text}")
    foreach(_decl IN LISTS _decls)
      string(REGEX MATCH "([A-Za-z_][A-Za-z0-9_]*)\\($" _ "${_decl}")
      list(APPEND _api_functions "${CMAKE_MATCH_1}")
    endforeach()
  endif()
endforeach()
string(REGEX MATCHALL "[A-Za-z_][A-Za-z0-9_]*" _public_names "${_code}")
list(REMOVE_DUPLICATES _public_names)
list(REMOVE_DUPLICATES _api_functions)
if(NOT _api_functions)
  message(FATAL_ERROR "check_exports: no BPNET_API function declared in ${HEADERS}/*.hpp")
endif()

execute_process(COMMAND "${NM}" -D -C --defined-only "${LIBRARY}"
  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0 OR _out STREQUAL "")
  message(FATAL_ERROR "check_exports: '${NM} -D -C --defined-only ${LIBRARY}' failed (${_rc}): ${_err}")
endif()
# Square brackets (abi tags: encode_model[abi:cxx11], "[clone .resolver]") would keep CMake
# from splitting the list at the semicolons between them: encoded as <: :>, decoded for
# messages. (Demangled names hold no semicolons.)
string(REPLACE "[" "<:" _out "${_out}")
string(REPLACE "]" ":>" _out "${_out}")
string(REPLACE "\n" ";" _lines "${_out}")

set(_leaks "")
set(_n_symbols 0)
set(_n_bpnet 0)
foreach(_line IN LISTS _lines)
  if(NOT _line MATCHES "^[0-9a-fA-F]* *[A-Za-z] (.+)$")
    continue()
  endif()
  set(_name "${CMAKE_MATCH_1}")
  math(EXPR _n_symbols "${_n_symbols} + 1")
  # The entity: the name before its parameter list ("void bpnet::loss_sum<float>",
  # "bpnet::Network<float>::fit", "typeinfo for bpnet::FileError").
  string(REGEX REPLACE "\\(.*" "" _entity "${_name}")
  if(NOT _entity MATCHES "bpnet::")
    continue()  # a standard-library instantiation, or not C++ (.gomp_critical_user_*)
  endif()
  math(EXPR _n_bpnet "${_n_bpnet} + 1")
  if(_name MATCHES "bpnet::(kernels|detail)::")
    list(APPEND _leaks "${_name}")
  elseif(_entity MATCHES "bpnet::([A-Za-z_][A-Za-z0-9_]*)")
    if(NOT CMAKE_MATCH_1 IN_LIST _public_names)
      list(APPEND _leaks "${_name}")
    endif()
  else()
    list(APPEND _leaks "${_name}")  # bpnet::(anonymous namespace)::...
  endif()
endforeach()

# Required: each BPNET_API function (by name; templates and abi-tagged names included), and a
# few symbols of the classes: Network's inline save() too (with extern template, a consumer's
# compiler may call it in the library instead of instantiating it).
set(_missing "")
foreach(_function IN LISTS _api_functions)
  string(FIND "${_out}" "bpnet::${_function}(" _at_call)
  string(FIND "${_out}" "bpnet::${_function}<" _at_template)
  if(_at_call EQUAL -1 AND _at_template EQUAL -1)
    list(APPEND _missing "bpnet::${_function}")
  endif()
endforeach()
foreach(_symbol IN ITEMS "bpnet::Network<float>::fit(" "bpnet::Network<double>::fit("
    "bpnet::Network<float>::Network(" "bpnet::Network<double>::Network("
    "bpnet::Network<float>::save(" "bpnet::Network<double>::save("
    "bpnet::ThreadScope::ThreadScope(int)" "typeinfo for bpnet::ModelFormatError\n"
    "typeinfo for bpnet::FileError\n" "typeinfo for bpnet::FileNotFoundError\n")
  string(FIND "${_out}" "${_symbol}" _at)
  if(_at EQUAL -1)
    string(STRIP "${_symbol}" _symbol)
    list(APPEND _missing "${_symbol}")
  endif()
endforeach()

function(_decode out list)
  string(REPLACE ";" "\n    " _text "${list}")
  string(REPLACE "<:" "[" _text "${_text}")
  string(REPLACE ":>" "]" _text "${_text}")
  set(${out} "${_text}" PARENT_SCOPE)
endfunction()

set(_errors "")
if(_leaks)
  list(LENGTH _leaks _n)
  _decode(_text "${_leaks}")
  string(APPEND _errors "\n  ${_n} internal symbol(s) exported (not declared in the public headers, "
                        "or in bpnet::kernels / bpnet::detail):\n    ${_text}")
endif()
if(_missing)
  _decode(_text "${_missing}")
  string(APPEND _errors "\n  public symbol(s) not exported (BPNET_API missing on a declaration, "
                        "or no definition?):\n    ${_text}")
endif()
if(_errors)
  message(FATAL_ERROR "check_exports: ${LIBRARY}:${_errors}")
endif()
list(LENGTH _api_functions _n_api)
message(STATUS "check_exports: ${LIBRARY}: ${_n_symbols} exported symbols, ${_n_bpnet} of "
               "them bpnet's, all public; the ${_n_api} BPNET_API functions, Network<float>, "
               "Network<double>, ThreadScope and the exception types present")
