#ifndef RAGPIPE_CZLIB_SHIM_H
#define RAGPIPE_CZLIB_SHIM_H
#include <zlib.h>
#endif
