"""Build casyncio._core from src/*.c.

Build variants, chosen by environment variables at build time:
  CASYNCIO_DEBUG=1   -O0 -g3, assertions on, live-object counters (CX_DEBUG)
  CASYNCIO_ASAN=1    -O1 -g, AddressSanitizer and UBSan, plus the debug
                     build's live-object counters
Default: -O2 release with -Wall -Wextra (-Werror when CASYNCIO_WERROR=1).
"""
import glob
import os

from setuptools import Extension, setup

cflags = ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter",
          "-Wno-missing-field-initializers", "-Wno-cast-function-type",
          "-D_GNU_SOURCE"]
ldflags = []
if os.environ.get("CASYNCIO_WERROR") == "1":
    cflags.append("-Werror")
if os.environ.get("CASYNCIO_ASAN") == "1":
    cflags += ["-O1", "-g", "-fno-omit-frame-pointer", "-UNDEBUG",
               "-DCX_DEBUG=1",
               "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
    ldflags += ["-fsanitize=address,undefined"]
elif os.environ.get("CASYNCIO_DEBUG") == "1":
    cflags += ["-O0", "-g3", "-UNDEBUG", "-DCX_DEBUG=1"]
else:
    cflags += ["-O2"]

setup(
    ext_modules=[
        Extension(
            "casyncio._core",
            sources=sorted(glob.glob("src/*.c")),
            depends=sorted(glob.glob("src/*.h")),
            extra_compile_args=cflags,
            extra_link_args=ldflags,
        )
    ],
)
