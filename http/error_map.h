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

// For answers given while part of the request body is still unread: the
// connection is closed right after the answer, so the unread bytes can never
// be parsed as a next request (request smuggling). cpp-httplib 0.11 ignores
// a "Connection: close" response header, so the body goes out through a
// content provider that ends the connection once it has written it.
void ReplyErrorAndClose(httplib::Response& res, const Status& status);
void ReplyErrorAndClose(httplib::Response& res, int http_status, std::string_view code, std::string_view message);

}  // namespace walship::http
