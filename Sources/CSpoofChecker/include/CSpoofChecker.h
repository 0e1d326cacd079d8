#ifndef CSPOOFCHECKER_H
#define CSPOOFCHECKER_H
// ICU's spoof checker (UTS #39, unicode/uspoof.h) from Debian's libicu, behind plain C types.
//
// Swift's Foundation on Linux carries its own ICU (_FoundationICU, another version), so:
// - Swift cannot import Debian's ICU headers: both declare the same C types differently. This
//   header uses none of them.
// - Debian's ICU is not linked but loaded with dlopen(RTLD_LOCAL): both ICUs export the
//   unprefixed UCaseMap constructor and destructor, and a linked Debian ICU would be found
//   first by Foundation's ICU, which would then build its case maps with another version's code.
#include <stdint.h>

/// A configured ICU USpoofChecker. Checking is thread-safe (ICU: functions taking a const
/// checker may be called concurrently on one instance).
typedef struct chorus_spoof_checker chorus_spoof_checker;

/// Letters of scripts that the "highly restrictive" level does not let mix, or digits of
/// more than one numbering system.
#define CHORUS_SPOOF_MIXES_SCRIPTS 1
/// The same non-spacing mark twice on one letter, or a dot above hidden by a dotted letter.
#define CHORUS_SPOOF_HIDES_MARKS 2

/// Loads ICU and opens a checker set to USPOOF_HIGHLY_RESTRICTIVE with the restriction level,
/// mixed numbers, invisible and hidden overlay checks. Never closed. NULL when that fails,
/// with a reason for people in `error` (NUL-terminated, cut to `capacity` bytes).
const chorus_spoof_checker *chorus_spoof_open(char *error, int32_t capacity);

/// CHORUS_SPOOF_* flags for `length` bytes of UTF-8 at `text`, or -1 when ICU reports an error.
int32_t chorus_spoof_check(const chorus_spoof_checker *checker, const char *text, int32_t length);

/// Writes the confusable skeleton (UTF-8, NFD) of `length` bytes of UTF-8 at `text` to
/// `output` and returns its length in bytes. When that is more than `capacity`, the output is
/// unusable and the caller retries with the length returned. -1 when ICU reports an error.
int32_t chorus_spoof_skeleton(const chorus_spoof_checker *checker, const char *text, int32_t length,
                              char *output, int32_t capacity);

/// The major version of the ICU whose headers this was compiled with (the one it loads).
int32_t chorus_spoof_icu_major_version(void);

/// The major version reported by the ICU library the checker loaded (u_getVersion).
int32_t chorus_spoof_loaded_icu_major_version(const chorus_spoof_checker *checker);

#endif
