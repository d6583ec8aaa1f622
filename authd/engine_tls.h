/* The `authd engine-tls` command (SPEC §7.1). */
#ifndef AUTHD_ENGINE_TLS_H
#define AUTHD_ENGINE_TLS_H

int engine_tls_main(int argc, char **argv);

#endif
