// mime/stream_parser.cpp — placeholder; being written.
#include "mime/stream_parser.hpp"
