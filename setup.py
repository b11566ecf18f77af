"""Build casyncio._core from src/*.c.

Build variants, chosen by environment variables at build time:
  CASYNCIO_DEBUG=1   -O0 -g3, assertions on, live-object counters (CX_DEBUG)
  CASYNCIO_ASAN=1    -O1 -g, AddressSanitizer and UBSan, plus the debug
                     build's live-object counters
Default: -O2 release with -Wall -Wextra (-Werror when CASYNCIO_WERROR=1).
"""
import glob
import os
import platform
import sys

# What CI builds and tests; anything else stops here with one sentence
# rather than a C compiler error.
SUPPORTED = "CPython 3.11 to 3.15 on Linux x86_64"
here = (f"{platform.python_implementation()} "
        f"{sys.version_info[0]}.{sys.version_info[1]} on "
        f"{platform.system()} {platform.machine()}")
if (platform.python_implementation() != "CPython"
        or not (3, 11) <= sys.version_info[:2] <= (3, 15)
        or platform.system() != "Linux" or platform.machine() != "x86_64"):
    sys.exit(f"casyncio supports {SUPPORTED}; this is {here}.")

from setuptools import Extension, setup  # noqa: E402

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
