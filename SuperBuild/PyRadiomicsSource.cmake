# PyRadiomics' source package as pyradiomics-source.json names it (one place for the URL, hash and version,
# read by this file for CMake and by pyradiomics_recipe.py for the test lane). Sets PYRADIOMICS_URL,
# PYRADIOMICS_SHA256, PYRADIOMICS_VERSION and PYRADIOMICS_RECIPE. string(JSON) needs CMake >= 3.19.
file(READ "${CMAKE_CURRENT_LIST_DIR}/pyradiomics-source.json" _pyradiomics_source)
string(JSON PYRADIOMICS_URL GET "${_pyradiomics_source}" url)
string(JSON PYRADIOMICS_SHA256 GET "${_pyradiomics_source}" sha256)
string(JSON PYRADIOMICS_VERSION GET "${_pyradiomics_source}" version)
set(PYRADIOMICS_RECIPE "${CMAKE_CURRENT_LIST_DIR}/pyradiomics_recipe.py")
