// smtpd/memory.cpp — mimalloc is found at run time (a weak reference): the library links
// no allocator, and programs without mimalloc (sanitizer builds) use glibc's.
#include "smtpd/memory.hpp"

#include <malloc.h>

extern "C" void mi_collect(bool force) __attribute__((weak));

namespace ringmail::smtpd {

void return_free_memory() noexcept {
    if (mi_collect) mi_collect(false);
    else malloc_trim(0);
}

}  // namespace ringmail::smtpd
