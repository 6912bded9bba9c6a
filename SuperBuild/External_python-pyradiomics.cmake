# PyRadiomics, built on Slicer's extension build servers with Slicer's own Python and numpy, installed into
# the extension's python-packages folder (the Extension Manager puts it on Slicer's Python path): users need
# no compiler. The source is PyPI's source package (pyradiomics-source.json), checked by SHA-256; the build
# is SuperBuild/pyradiomics_recipe.py, which applies the Python 3.12 fix and runs pip, the same recipe the
# Slicer-Python test lane runs (Testing/slicer_module/test_slicer_python_lane.py).

set(proj python-pyradiomics)

set(${proj}_DEPENDS "")
ExternalProject_Include_Dependencies(${proj} PROJECT_VAR proj DEPENDS_VAR ${proj}_DEPENDS)

if(${SUPERBUILD_TOPLEVEL_PROJECT}_USE_SYSTEM_${proj})
  message(FATAL_ERROR "Enabling ${SUPERBUILD_TOPLEVEL_PROJECT}_USE_SYSTEM_${proj} is not supported: "
    "PyRadiomics ships with the extension.")
endif()

include(${CMAKE_CURRENT_LIST_DIR}/PyRadiomicsSource.cmake)

# Where pip installs (--prefix): its lib/python3.x/site-packages (Lib/site-packages on Windows) becomes the
# extension's site-packages once the inner build installs the folder (top-level CMakeLists.txt).
set(python_packages_DIR "${CMAKE_BINARY_DIR}/python-packages-install")
file(TO_NATIVE_PATH "${python_packages_DIR}" _python_packages_native_dir)

# The C extensions are compiled with the compiler Slicer was built with (MSVC's environment on Windows).
set(_compiler_environment)
if(MSVC)
  find_package(Vcvars REQUIRED)
  set(_compiler_environment ${Vcvars_WRAPPER_BATCH_FILE})
endif()

ExternalProject_Add(${proj}
  ${${proj}_EP_ARGS}
  URL ${PYRADIOMICS_URL}
  URL_HASH SHA256=${PYRADIOMICS_SHA256}
  DOWNLOAD_DIR ${CMAKE_BINARY_DIR}
  SOURCE_DIR ${CMAKE_BINARY_DIR}/${proj}
  BUILD_IN_SOURCE 1
  CONFIGURE_COMMAND ""
  BUILD_COMMAND ""
  INSTALL_COMMAND ${CMAKE_COMMAND} -E env PYTHONNOUSERSITE=1 CC=${CMAKE_C_COMPILER}
    ${_compiler_environment} ${PYTHON_EXECUTABLE} ${PYRADIOMICS_RECIPE}
      build <SOURCE_DIR> --prefix ${_python_packages_native_dir}
  DEPENDS ${${proj}_DEPENDS}
  )

ExternalProject_GenerateProjectDescription_Step(${proj} VERSION ${PYRADIOMICS_VERSION})

# The build tree's launcher finds PyRadiomics too (tests run in the build tree on the build servers).
set(${proj}_PYTHONPATH_LAUNCHER_BUILD ${python_packages_DIR}/${PYTHON_SITE_PACKAGES_SUBDIR})
mark_as_superbuild(VARS ${proj}_PYTHONPATH_LAUNCHER_BUILD LABELS "PYTHONPATH_LAUNCHER_BUILD")
mark_as_superbuild(python_packages_DIR:PATH)
