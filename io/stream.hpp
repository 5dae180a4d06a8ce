// io/stream.hpp — one connection's bytes in and out on a Ring, with optional TLS: an
// accepted socket or an outbound connect (with a deadline), multishot recv from the
// ring's provided buffers, one send in flight, TLS over memory BIOs (TlsStream) so every
// socket operation stays on the ring. Knows nothing of the protocol above: its owner
// routes the completions that name it to on_completion() and hears what they meant.
// The owner names the stream in every SQE (`name`, at most 54 bits); the stream adds its
// operation in the two bits above. A stream may be destroyed only when ops() is 0.
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "io/buffer_ring.hpp"
#include "io/ring.hpp"
#include "io/tls_stream.hpp"

namespace ringmail::io {

enum class StreamEvent : std::uint8_t {
    Data,        // plaintext received (the bytes are valid during the call only)
    Connected,   // the outbound connect finished
    TlsReady,    // the TLS handshake finished
    TlsFailed,   // handshake failure or a bad record: the alert is queued; flush, then close
    PeerClosed,  // FIN or close_notify: no more input will come
    Writable,    // call send() again: a send finished, or TLS has records of its own to go
    Failed,      // reset, send error, connect refused or timed out: close now (error())
};

class Stream {
public:
    static constexpr unsigned kOpShift = 54;

    Stream(Ring& ring, BufferRing& buffers, std::uint8_t handler, std::uint64_t name) noexcept
        : ring_(ring), buffers_(buffers), handler_(handler), name_(name) {}
    ~Stream();  // closes a socket still open (at exit only: otherwise close() first)
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // An accepted socket: reading starts now.
    void adopt(int fd) noexcept;
    // Outbound TCP: a non-blocking socket, connect, and a linked timeout that fails it
    // with ETIMEDOUT after `timeout_ms`. Connected or Failed comes later. False (with
    // error()) when no socket could be made.
    bool connect(const sockaddr* addr, socklen_t len, std::uint64_t timeout_ms) noexcept;

    // Begins TLS. `clear_first` (taken, left empty) leaves first, in the clear: the 220
    // to STARTTLS; from now on nothing leaves unencrypted. The client side sends its
    // hello with the next send(). `deadline_ms` (Ring::now_ms() scale) bounds the
    // handshake: see handshake_expired(). False when OpenSSL cannot allocate.
    bool start_tls(SSL_CTX* ctx, TlsStream::Side side, std::uint64_t deadline_ms, std::string& clear_first,
                   std::string_view sni = {}, bool verify_name = false) noexcept;

    // A completion whose payload named this stream. `emit(StreamEvent, std::string_view)`
    // hears, in order, what it meant (Data may come between TlsReady and PeerClosed).
    template <class F>
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload, F& emit) noexcept {
        dispatch(cqe, payload >> kOpShift, [](void* f, StreamEvent e, std::string_view b) noexcept {
            (*static_cast<F*>(f))(e, b);
        }, &emit);
    }
    // The owner's stream name, and whether a payload names a stream operation at all.
    static std::uint64_t name_of(std::uint64_t payload) noexcept { return payload & ((1ull << kOpShift) - 1); }

    // Sends `plain` (encrypted when TLS is up) unless a send is in flight; takes what it
    // sends out of `plain`, leaving it empty. With a send in flight `plain` is left for
    // the next call (after Sent). `last`: TLS close_notify follows the plaintext (RFC
    // 8446 6.1). Returns false when TLS could not encrypt.
    bool send(std::string& plain, bool last = false) noexcept;
    // Ciphertext or plaintext owed (handshake records, the clear 220) waits to go.
    bool has_pending_output() const noexcept;
    bool sending() const noexcept { return send_armed_; }
    // Bytes the socket has taken so far (ciphertext under TLS): whether a long send moves.
    std::uint64_t bytes_sent() const noexcept { return bytes_sent_; }

    void pause_reading() noexcept;   // cancels the receive; bytes wait in the kernel
    void resume_reading() noexcept;  // re-arms it, unless the stream is closed or done
    void stop_reading() noexcept;    // no more input is wanted (closing)
    // Shuts the socket down (FIN now) and closes it through the ring. Completions still
    // due arrive later (ops() counts them); Data is no longer emitted.
    void close() noexcept;

    bool open() const noexcept { return fd_ >= 0; }
    int fd() const noexcept { return fd_; }
    unsigned ops() const noexcept { return ops_; }
    bool reading() const noexcept { return recv_armed_; }
    bool tls_active() const noexcept { return tls_ != nullptr; }
    bool handshaking() const noexcept { return handshaking_; }
    bool handshake_expired(std::uint64_t now_ms) const noexcept { return handshaking_ && now_ms >= deadline_; }
    const TlsStream* tls() const noexcept { return tls_.get(); }
    int error() const noexcept { return error_; }  // errno of the last Failed

private:
    enum Op : std::uint64_t { kRecv = 0, kSend = 1, kConnect = 2, kTimeout = 3 };
    using Emit = void (*)(void*, StreamEvent, std::string_view) noexcept;

    void dispatch(const io_uring_cqe& cqe, std::uint64_t op, Emit emit, void* ctx) noexcept;
    void on_recv(const io_uring_cqe& cqe, Emit emit, void* ctx) noexcept;
    void on_send(int res, Emit emit, void* ctx) noexcept;
    void tls_in(std::string_view cipher, Emit emit, void* ctx) noexcept;
    void arm_recv() noexcept;
    void cancel_recv() noexcept;
    void arm_send() noexcept;
    std::uint64_t payload(Op op) const noexcept { return std::uint64_t(op) << kOpShift | name_; }

    Ring& ring_;
    BufferRing& buffers_;
    std::uint8_t handler_;
    std::uint64_t name_;
    int fd_ = -1;
    int error_ = 0;
    unsigned ops_ = 0;           // requests in flight that name this stream
    bool recv_armed_ = false;
    bool want_input_ = false;    // re-arm the receive when it ends
    bool paused_ = false;
    bool send_armed_ = false;
    bool connecting_ = false;
    bool handshaking_ = false;
    std::uint64_t deadline_ = 0;
    std::unique_ptr<TlsStream> tls_;
    std::string clear_;          // plaintext owed before any TLS bytes
    std::string sending_;        // the bytes of the send in flight
    std::size_t sent_ = 0;
    std::uint64_t bytes_sent_ = 0;
    std::unique_ptr<sockaddr_storage> target_;  // connect target; the kernel reads it when the SQE runs
};

}  // namespace ringmail::io
