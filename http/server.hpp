// http/server.hpp — the HTTP API on libmicrohttpd's own thread (never a reactor): binds
// [http] listen, checks the bearer token, routes each request to QueueApi and answers JSON.
// Requests are served one at a time by that one thread, which alone uses the API's store.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "http/metrics.hpp"
#include "http/queue_api.hpp"

struct MHD_Daemon;
struct MHD_Connection;

namespace ringmail::http {

struct ServerOptions {
    std::string host = "127.0.0.1";  // numeric, v4 or v6
    std::uint16_t port = 8025;       // 0: a free one (port() says which)
    std::string token;               // empty: no Authorization needed
    std::size_t max_body = 17 << 20; // request bodies over it get 413 (read and dropped)
};

class Server {
public:
    // Binds at once: throws std::runtime_error naming the address when it cannot.
    // `metrics`: the counters GET /metrics shows (none: zeros), called on the HTTP thread.
    Server(const ServerOptions& options, std::unique_ptr<QueueApi> api, MetricsSource metrics = {});
    ~Server();  // stops the thread; an answer under way may be lost (the client may send again)
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string address() const;  // "127.0.0.1:8025", "[::1]:8025"
    void start();                 // serves from now on its own thread; throws if it cannot

private:
    struct Callbacks;  // http/server.cpp: what libmicrohttpd calls
    friend struct Callbacks;
    Response route(MHD_Connection* c, std::string_view method, std::string_view path, std::string_view body);
    bool authorized(MHD_Connection* c) const;

    ServerOptions options_;
    std::unique_ptr<QueueApi> api_;  // outlives the daemon: a list being sent reads its store
    MetricsSource metrics_;
    int listen_fd_ = -1;             // MHD's once started
    std::uint16_t port_ = 0;
    MHD_Daemon* daemon_ = nullptr;
};

// The server for [http] of `config` on the queue in [relay] queue_dir (a store of its own),
// limits from [relay] max_message_size; null when [http] listen is empty.
std::unique_ptr<Server> make_server(const Config& config, std::function<void()> poke, MetricsSource metrics = {});

}  // namespace ringmail::http
