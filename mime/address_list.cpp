// mime/address_list.cpp — placeholder; being written.
#include "mime/address_list.hpp"
