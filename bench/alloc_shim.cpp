// bench/alloc_shim.cpp — a counting operator new for bench/alloc_count, loaded into the real
// `ringmail` binary with LD_PRELOAD (it comes before libstdc++ and mimalloc in the symbol
// lookup, so every C++ allocation of the server passes here; malloc stays the server's).
// The count lives in the file named by RINGMAIL_ALLOC_COUNT (8 octets, shared with the
// driver through mmap); without that variable nothing is counted.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace {

std::atomic<std::uint64_t>* g_count = nullptr;

// At load, before the program's own constructors; open and mmap allocate nothing.
__attribute__((constructor)) void attach() {
    const char* path = std::getenv("RINGMAIL_ALLOC_COUNT");
    if (!path) return;
    const int fd = ::open(path, O_RDWR);
    if (fd < 0) return;
    void* p = ::mmap(nullptr, sizeof(std::uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p != MAP_FAILED) g_count = static_cast<std::atomic<std::uint64_t>*>(p);
}

inline void counted() noexcept {
    if (g_count) g_count->fetch_add(1, std::memory_order_relaxed);
}

void* aligned(std::size_t n, std::align_val_t a) noexcept {
    void* p = nullptr;
    return ::posix_memalign(&p, std::max<std::size_t>(static_cast<std::size_t>(a), sizeof(void*)), n ? n : 1) == 0
               ? p
               : nullptr;
}

}  // namespace

void* operator new(std::size_t n) {
    counted();
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    counted();
    return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void* operator new(std::size_t n, std::align_val_t a) {
    counted();
    if (void* p = aligned(n, a)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    counted();
    return aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept {
    return operator new(n, a, t);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
