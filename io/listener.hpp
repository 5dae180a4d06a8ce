// io/listener.hpp — listening sockets: one per reactor on the same port with
// SO_REUSEPORT, so the kernel spreads connections and reactors share nothing; and the
// multishot accept on one of them.
#pragma once
#include <cstdint>
#include <vector>

#include "io/ring.hpp"

namespace ringmail::io {

// Opens `count` sockets on `port` (0: a free port, the same for all); loopback only when
// `local`. Throws std::runtime_error naming the port and the reason. `port` gets the
// port actually bound.
std::vector<int> open_listeners(bool local, std::uint16_t& port, unsigned count);

// Told about each accepted socket; `listener` is the number given to the Acceptor.
class AcceptSink {
public:
    virtual void on_accepted(int fd, unsigned listener) noexcept = 0;
    // Out of descriptors: `fd` is a client let in on the spare descriptor only to be
    // told so (the owner writes its refusal without waiting, then closes it at once).
    virtual void on_refused(int fd, unsigned listener) noexcept = 0;

protected:
    ~AcceptSink() = default;
};

// Multishot accept on one listening socket, re-armed whenever the kernel ends it. Owns
// the socket: stop() (or the destructor) closes it.
class Acceptor final : public Handler {
public:
    Acceptor(Ring& ring, int listen_fd, AcceptSink& sink, unsigned listener) noexcept;
    ~Acceptor();
    Acceptor(const Acceptor&) = delete;
    Acceptor& operator=(const Acceptor&) = delete;

    void arm() noexcept;
    // Cancels the accept and closes the socket: the kernel stops completing handshakes
    // into its backlog, so clients there get a reset now instead of waiting unanswered.
    void stop() noexcept;
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override;
    // An accept request is in flight: it holds the listening socket open in the kernel,
    // even after stop() closed our descriptor, until its last completion.
    bool armed() const noexcept { return armed_; }

private:
    void out_of_descriptors(int res) noexcept;

    Ring& ring_;
    std::uint8_t id_;
    int fd_;
    int spare_;                  // /dev/null, held so that a refusal has a descriptor
    AcceptSink& sink_;
    unsigned listener_;
    bool armed_ = false;
    bool pausing_ = false;       // out of descriptors: the resume timer is set
    std::uint64_t next_log_ms_ = 0;
    __kernel_timespec pause_{};
};

}  // namespace ringmail::io
