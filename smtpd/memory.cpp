// smtpd/memory.cpp — mimalloc is found at run time (a weak reference): the library links
// no allocator, and programs without mimalloc (sanitizer builds) use glibc's.
#include "smtpd/memory.hpp"

#include <malloc.h>

#include <mutex>

extern "C" void mi_collect(bool force) __attribute__((weak));

namespace ringmail::smtpd {

void return_free_memory() noexcept {
    if (mi_collect) return mi_collect(false);
    // One reactor at a time: when malloc is not glibc's (a sanitizer's allocator, or a
    // preloaded one), this call is glibc's allocator's first use, and glibc sets it up
    // lazily without a lock. Two reactors trimming at once then raced that set-up: a
    // crash in mtrim, or both threads attached to the main arena, so that the second to
    // exit failed glibc's `attached_threads > 0` assertion.
    static std::mutex one_at_a_time;
    std::lock_guard lock(one_at_a_time);
    malloc_trim(0);
}

}  // namespace ringmail::smtpd
