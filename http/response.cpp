// http/response.cpp — the API's one error form.
#include "http/response.hpp"

#include <nlohmann/json.hpp>

namespace ringmail::http {

Response error_response(unsigned status, std::string_view message) {
    Response r;
    r.status = status;
    // A message may quote the client's bytes: those that are not UTF-8 print as U+FFFD.
    r.body = nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

}  // namespace ringmail::http
