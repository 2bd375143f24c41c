#ifndef RAGPIPE_CZLIB_SHIM_H
#define RAGPIPE_CZLIB_SHIM_H
#include <zlib.h>

// inflateInit2 is a macro Swift cannot import: a raw deflate stream (a zip entry) needs it.
static inline int ragpipe_inflateInit2(z_streamp stream, int windowBits) { return inflateInit2(stream, windowBits); }
#endif
