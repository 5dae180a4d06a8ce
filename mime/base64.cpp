// mime/base64.cpp — placeholder; being written.
#include "mime/base64.hpp"
