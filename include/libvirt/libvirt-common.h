/*
 * libvirt-common.h: version numbers and helper macros shared by the public
 * headers.  Include <libvirt/libvirt.h>, not this file.
 */
#ifndef MODVIRT_LIBVIRT_COMMON_H
#define MODVIRT_LIBVIRT_COMMON_H

#ifndef __VIR_LIBVIRT_H_INCLUDES__
# error "Don't include this file directly, only use libvirt/libvirt.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The libvirt API level this library implements: major * 1,000,000 +
 * minor * 1,000 + micro.  modvirt speaks the libvirt 9.0.0 wire protocol. */
#define LIBVIR_VERSION_NUMBER 9000000

/* True if the headers are at least libvirt @major.@minor.@micro. */
#define LIBVIR_CHECK_VERSION(major, minor, micro) \
    ((major) * 1000000 + (minor) * 1000 + (micro) <= LIBVIR_VERSION_NUMBER)

#ifndef VIR_EXPORT_VAR
# define VIR_EXPORT_VAR extern
#endif

/* Called when the library drops its last use of an application's opaque
 * pointer (event callbacks, event loop handles and timers). */
typedef void (*virFreeCallback)(void *opaque);

/* ------------------------------------------------------ typed parameters */

typedef enum {
    VIR_TYPED_PARAM_INT = 1,
    VIR_TYPED_PARAM_UINT = 2,
    VIR_TYPED_PARAM_LLONG = 3,
    VIR_TYPED_PARAM_ULLONG = 4,
    VIR_TYPED_PARAM_DOUBLE = 5,
    VIR_TYPED_PARAM_BOOLEAN = 6,
    VIR_TYPED_PARAM_STRING = 7,
#ifdef VIR_ENUM_SENTINELS
    VIR_TYPED_PARAM_LAST
#endif
} virTypedParameterType;

typedef enum {
    /* bits 0 and 1 belong to virDomainModificationImpact */
    VIR_TYPED_PARAM_STRING_OKAY = 1 << 2,   /* the caller accepts strings */
} virTypedParameterFlags;

#define VIR_TYPED_PARAM_FIELD_LENGTH 80

typedef struct _virTypedParameter virTypedParameter;
typedef virTypedParameter *virTypedParameterPtr;

/* One named value; @type says which member of @value is set. */
struct _virTypedParameter {
    char field[VIR_TYPED_PARAM_FIELD_LENGTH];   /* name, NUL terminated */
    int type;                                   /* a virTypedParameterType */
    union {
        int i;
        unsigned int ui;
        long long int l;
        unsigned long long int ul;
        double d;
        char b;
        char *s;                                /* never NULL */
    } value;
};

/* Lookups: 1 if found with the asked type, 0 if absent, -1 on error. */
virTypedParameterPtr virTypedParamsGet(virTypedParameterPtr params, int nparams,
                                       const char *name);
int virTypedParamsGetInt(virTypedParameterPtr params, int nparams,
                         const char *name, int *value);
int virTypedParamsGetUInt(virTypedParameterPtr params, int nparams,
                          const char *name, unsigned int *value);
int virTypedParamsGetLLong(virTypedParameterPtr params, int nparams,
                           const char *name, long long *value);
int virTypedParamsGetULLong(virTypedParameterPtr params, int nparams,
                            const char *name, unsigned long long *value);
int virTypedParamsGetDouble(virTypedParameterPtr params, int nparams,
                            const char *name, double *value);
int virTypedParamsGetBoolean(virTypedParameterPtr params, int nparams,
                             const char *name, int *value);
int virTypedParamsGetString(virTypedParameterPtr params, int nparams,
                            const char *name, const char **value);

/* Appends: *params grows as needed (*maxparams is its allocated length,
 * 0 for a new array); 0 on success, -1 on error. */
int virTypedParamsAddInt(virTypedParameterPtr *params, int *nparams,
                         int *maxparams, const char *name, int value);
int virTypedParamsAddUInt(virTypedParameterPtr *params, int *nparams,
                          int *maxparams, const char *name, unsigned int value);
int virTypedParamsAddLLong(virTypedParameterPtr *params, int *nparams,
                           int *maxparams, const char *name, long long value);
int virTypedParamsAddULLong(virTypedParameterPtr *params, int *nparams,
                            int *maxparams, const char *name, unsigned long long value);
int virTypedParamsAddDouble(virTypedParameterPtr *params, int *nparams,
                            int *maxparams, const char *name, double value);
int virTypedParamsAddBoolean(virTypedParameterPtr *params, int *nparams,
                             int *maxparams, const char *name, int value);
int virTypedParamsAddString(virTypedParameterPtr *params, int *nparams,
                            int *maxparams, const char *name, const char *value);
int virTypedParamsAddStringList(virTypedParameterPtr *params, int *nparams,
                                int *maxparams, const char *name, const char **values);
int virTypedParamsAddFromString(virTypedParameterPtr *params, int *nparams,
                                int *maxparams, const char *name, int type,
                                const char *value);
/* Free the strings inside; Free also frees the array. */
void virTypedParamsClear(virTypedParameterPtr params, int nparams);
void virTypedParamsFree(virTypedParameterPtr params, int nparams);

#ifdef __cplusplus
}
#endif

#endif /* MODVIRT_LIBVIRT_COMMON_H */
