// Eigen is header-only; this system library only carries pkg-config `eigen3`'s include path
// (-I/usr/include/eigen3) to the C++ target that uses it. Nothing is exported to Swift.
#ifndef CEIGEN_SHIM_H
#define CEIGEN_SHIM_H
#endif
