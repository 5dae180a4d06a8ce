// http/response.hpp — what a route answers: a status and a JSON body, or a body made piece
// by piece (a queue list of any length) for the MHD wrapper (http/server.cpp) to send.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringmail::http {

enum class Piece : std::uint8_t { Some, End, Failed };  // Failed: the client sees a broken body

struct Response {
    unsigned status = 200;
    std::string body;  // JSON, unless content_type says otherwise
    std::string content_type = "application/json";
    // When set, the body goes on with what each call appends while it returns Piece::Some.
    std::function<Piece(std::string&)> more;
    std::vector<std::pair<std::string, std::string>> headers;  // beyond Content-Type
};

// {"error": message} with that status; every error of the API has this form.
Response error_response(unsigned status, std::string_view message);

}  // namespace ringmail::http
