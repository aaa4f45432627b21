/* evcrawl version and the export macro used by every public header. */
#ifndef EVCRAWL_VERSION_H
#define EVCRAWL_VERSION_H

#define EVC_VERSION_MAJOR 0
#define EVC_VERSION_MINOR 1
#define EVC_VERSION_PATCH 0

/* The library is built with hidden visibility; only EVC_API names export. */
#if defined(__GNUC__)
#define EVC_API __attribute__((visibility("default")))
#else
#define EVC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** The library's version as "MAJOR.MINOR.PATCH"; static storage. */
EVC_API const char *evc_version(void);

#ifdef __cplusplus
}
#endif
#endif
