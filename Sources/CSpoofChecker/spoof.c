#define _GNU_SOURCE
#include "CSpoofChecker.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unicode/uspoof.h>
#include <unicode/uversion.h>

// ICU renames its entry points after its version with macros (uspoof_open is uspoof_open_72):
// NAME(uspoof_open) is the real symbol's name, and the library is the headers' version.
#define CHORUS_STRING(x) #x
#define NAME(x) CHORUS_STRING(x)
#define ICU_I18N_LIBRARY "libicui18n.so." NAME(U_ICU_VERSION_MAJOR_NUM)

struct chorus_spoof_checker {
    USpoofChecker *checker;
    int32_t loadedMajorVersion;
    __typeof__(&uspoof_check2UTF8) check2UTF8;
    __typeof__(&uspoof_getSkeletonUTF8) getSkeletonUTF8;
};

static const chorus_spoof_checker *fail(char *error, int32_t capacity, const char *what, const char *detail) {
    if (error != NULL && capacity > 0) snprintf(error, (size_t)capacity, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return NULL;
}

const chorus_spoof_checker *chorus_spoof_open(char *error, int32_t capacity) {
    // RTLD_LOCAL: ICU's symbols (and those of libicuuc, which it loads) stay out of the global scope.
    void *library = dlopen(ICU_I18N_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) return fail(error, capacity, "cannot load ICU (" ICU_I18N_LIBRARY ")", dlerror());

    __typeof__(&uspoof_open) openChecker = (__typeof__(&uspoof_open))dlsym(library, NAME(uspoof_open));
    __typeof__(&uspoof_setChecks) setChecks = (__typeof__(&uspoof_setChecks))dlsym(library, NAME(uspoof_setChecks));
    __typeof__(&uspoof_setRestrictionLevel) setRestrictionLevel =
        (__typeof__(&uspoof_setRestrictionLevel))dlsym(library, NAME(uspoof_setRestrictionLevel));
    __typeof__(&uspoof_close) closeChecker = (__typeof__(&uspoof_close))dlsym(library, NAME(uspoof_close));
    __typeof__(&u_getVersion) getVersion = (__typeof__(&u_getVersion))dlsym(library, NAME(u_getVersion));
    __typeof__(&uspoof_check2UTF8) check2UTF8 = (__typeof__(&uspoof_check2UTF8))dlsym(library, NAME(uspoof_check2UTF8));
    __typeof__(&uspoof_getSkeletonUTF8) getSkeletonUTF8 =
        (__typeof__(&uspoof_getSkeletonUTF8))dlsym(library, NAME(uspoof_getSkeletonUTF8));
    if (!openChecker || !setChecks || !setRestrictionLevel || !closeChecker || !getVersion || !check2UTF8 || !getSkeletonUTF8) {
        return fail(error, capacity, "ICU (" ICU_I18N_LIBRARY ") lacks the spoof checker", NULL);
    }

    UErrorCode status = U_ZERO_ERROR;
    USpoofChecker *checker = openChecker(&status);
    if (checker == NULL || U_FAILURE(status)) {
        if (checker != NULL) closeChecker(checker);
        return fail(error, capacity, "ICU cannot open a spoof checker", NULL);
    }
    setChecks(checker, USPOOF_RESTRICTION_LEVEL | USPOOF_MIXED_NUMBERS | USPOOF_INVISIBLE | USPOOF_HIDDEN_OVERLAY,
              &status);
    setRestrictionLevel(checker, USPOOF_HIGHLY_RESTRICTIVE);
    struct chorus_spoof_checker *result = malloc(sizeof *result);
    if (U_FAILURE(status) || result == NULL) {
        closeChecker(checker);
        free(result);
        return fail(error, capacity, "ICU cannot configure a spoof checker", NULL);
    }
    UVersionInfo version;
    getVersion(version);
    result->checker = checker;
    result->loadedMajorVersion = version[0];
    result->check2UTF8 = check2UTF8;
    result->getSkeletonUTF8 = getSkeletonUTF8;
    return result;
}

int32_t chorus_spoof_check(const chorus_spoof_checker *checker, const char *text, int32_t length) {
    if (checker == NULL || text == NULL || length < 0) return -1;
    UErrorCode status = U_ZERO_ERROR;
    int32_t result = checker->check2UTF8(checker->checker, text, length, NULL, &status);
    if (U_FAILURE(status)) return -1;
    int32_t flags = 0;
    if (result & (USPOOF_RESTRICTION_LEVEL | USPOOF_MIXED_NUMBERS)) flags |= CHORUS_SPOOF_MIXES_SCRIPTS;
    if (result & (USPOOF_INVISIBLE | USPOOF_HIDDEN_OVERLAY)) flags |= CHORUS_SPOOF_HIDES_MARKS;
    return flags;
}

int32_t chorus_spoof_skeleton(const chorus_spoof_checker *checker, const char *text, int32_t length,
                              char *output, int32_t capacity) {
    if (checker == NULL || text == NULL || length < 0 || capacity < 0 || (output == NULL && capacity > 0)) return -1;
    UErrorCode status = U_ZERO_ERROR;
    int32_t needed = checker->getSkeletonUTF8(checker->checker, 0, text, length, output, capacity, &status);
    if (status == U_BUFFER_OVERFLOW_ERROR && needed > capacity) return needed;
    if (U_FAILURE(status) || needed < 0) return -1;
    return needed;
}

int32_t chorus_spoof_icu_major_version(void) {
    return U_ICU_VERSION_MAJOR_NUM;
}

int32_t chorus_spoof_loaded_icu_major_version(const chorus_spoof_checker *checker) {
    return checker == NULL ? -1 : checker->loadedMajorVersion;
}
