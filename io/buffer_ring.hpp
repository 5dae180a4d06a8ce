// io/buffer_ring.hpp — a provided-buffer ring (io_uring, Linux 5.19+): COUNT receive
// buffers of SIZE bytes that the kernel picks from for multishot recv, so that an idle
// connection holds no buffer. Shared by the reactor and the load generator (bench/);
// header-only because the generator does not link the engine.
#pragma once
#include <liburing.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ringmail::io {

class BufferRing {
public:
    // COUNT must be a power of two. Throws std::runtime_error when the kernel refuses.
    BufferRing(io_uring& ring, unsigned count, unsigned size, unsigned short group)
        : count_(count), size_(size), group_(group) {
        void* mem = ::mmap(nullptr, ring_bytes(), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
        if (mem == MAP_FAILED) throw std::runtime_error("mmap of the buffer ring failed");
        ring_ = static_cast<io_uring_buf_ring*>(mem);
        io_uring_buf_ring_init(ring_);
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uint64_t>(ring_);
        reg.ring_entries = count_;
        reg.bgid = group_;
        if (const int rc = io_uring_register_buf_ring(&ring, &reg, 0); rc < 0) {
            ::munmap(ring_, ring_bytes());
            throw std::runtime_error(std::string("io_uring provided buffers: ") + std::strerror(-rc));
        }
        mem = ::mmap(nullptr, std::size_t(count_) * size_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
        if (mem == MAP_FAILED) {
            // The registration goes with the ring; the ring memory must outlive it.
            ring_ = nullptr;
            throw std::runtime_error("mmap of receive buffers failed");
        }
        buffers_ = static_cast<char*>(mem);
        for (unsigned i = 0; i < count_; ++i) recycle(i);
        publish();
    }
    // Call after io_uring_queue_exit(): the kernel may use the ring until then.
    ~BufferRing() {
        if (buffers_) ::munmap(buffers_, std::size_t(count_) * size_);
        if (ring_) ::munmap(ring_, ring_bytes());
    }
    BufferRing(const BufferRing&) = delete;
    BufferRing& operator=(const BufferRing&) = delete;

    unsigned short group() const noexcept { return group_; }
    // The buffer a recv completion names in its flags (IORING_CQE_F_BUFFER set).
    static unsigned id(unsigned cqe_flags) noexcept { return cqe_flags >> IORING_CQE_BUFFER_SHIFT; }
    const char* data(unsigned bid) const noexcept { return buffers_ + std::size_t(bid) * size_; }
    // Hands a buffer back once its bytes are read; the kernel sees it after publish().
    void recycle(unsigned bid) noexcept {
        io_uring_buf_ring_add(ring_, buffers_ + std::size_t(bid) * size_, size_, static_cast<unsigned short>(bid),
                              io_uring_buf_ring_mask(count_), static_cast<int>(recycled_++));
    }
    // Once per batch of completions: one store for every buffer recycled in it.
    void publish() noexcept {
        if (recycled_ == 0) return;
        io_uring_buf_ring_advance(ring_, static_cast<int>(recycled_));
        recycled_ = 0;
    }

private:
    std::size_t ring_bytes() const noexcept { return std::size_t(count_) * sizeof(io_uring_buf); }

    io_uring_buf_ring* ring_ = nullptr;
    char* buffers_ = nullptr;
    unsigned count_, size_;
    unsigned short group_;
    unsigned recycled_ = 0;
};

}  // namespace ringmail::io
