/*
 * Answers authd writes on a libmicrohttpd connection itself, for the heads it
 * refuses for their size, which libmicrohttpd 0.9.75 cannot always answer in
 * the memory the head left it (http.c says when), and the end of what is sent.
 */
#ifndef AUTHD_HTTP_DIRECT_H
#define AUTHD_HTTP_DIRECT_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Writes status, r's headers, Date and Content-Length, then the body unless
 * head_only, on the connection (TLS or not); false when not all of it went.
 */
bool direct_answer(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
		   const char *body, size_t len, bool head_only);
/*
 * Ends what the connection sends, TLS close_notify first: nothing libmicrohttpd
 * tries to send afterwards reaches the client.
 */
void direct_end(struct MHD_Connection *c);

#endif
