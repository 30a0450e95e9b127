// The one place that turns internal errors into HTTP answers.
// Every error body is {"error":{"code":"...","message":"..."}}.
#pragma once

#include <httplib.h>

#include <string_view>

#include "base/status.h"

namespace walship::http {

int HttpStatusFor(const Status& status);

// The "code" of the error body: the status's reason if it has one, else its code name.
std::string_view ErrorCodeFor(const Status& status);

std::string ErrorBody(std::string_view code, std::string_view message);

void ReplyError(httplib::Response& res, const Status& status);
// For errors the HTTP layer itself detects (unknown route, wrong method).
void ReplyError(httplib::Response& res, int http_status, std::string_view code, std::string_view message);

void ReplyJson(httplib::Response& res, int http_status, const std::string& body);

}  // namespace walship::http
