# SPDX-License-Identifier: BSD-3-Clause
"""aisio: accelerator-integrated storage I/O. aisio.fil reads file datasets in batches."""
import pkgutil

# The compiled half (aisio._fil) may sit in another folder of sys.path (a build directory).
__path__ = pkgutil.extend_path(__path__, __name__)
