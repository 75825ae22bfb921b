# CMake generated Testfile for 
# Source directory: /work/main
# Build directory: /work/main/build
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("include/minfer")
subdirs("lib/Dialect")
subdirs("lib/Transforms")
subdirs("tools")
subdirs("test")
subdirs("lib/Runtime")
subdirs("runtime/cuda")
subdirs("unittests")
subdirs("examples")
subdirs("bench")
