"""The one compiled module: Cython against lxml's public C API (see the module's docstring)."""

import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

extension = Extension(
    "virtprov_speedups._hostrequires",
    ["src/virtprov_speedups/_hostrequires.pyx"],
    include_dirs=lxml.get_include(),
)
setup(
    ext_modules=cythonize(
        [extension],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    )
)
