// Debian's libode-dev is built in double precision: dDOUBLE must be defined before <ode/ode.h>.
#ifndef CODE_SHIM_H
#define CODE_SHIM_H
#ifndef dDOUBLE
#define dDOUBLE
#endif
#include <ode/ode.h>
#endif
