/*
 * client-typed-params.c: the virTypedParams* helpers of libvirt-common.h,
 * and the conversion of typed parameters to the wire.
 */
#define G_LOG_DOMAIN "modvirt.client"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client-typed-params.h"

static const char *const client_typed_param_type_names[] = {
    [0] = "unknown",
    [VIR_TYPED_PARAM_INT] = "int",
    [VIR_TYPED_PARAM_UINT] = "uint",
    [VIR_TYPED_PARAM_LLONG] = "llong",
    [VIR_TYPED_PARAM_ULLONG] = "ullong",
    [VIR_TYPED_PARAM_DOUBLE] = "double",
    [VIR_TYPED_PARAM_BOOLEAN] = "boolean",
    [VIR_TYPED_PARAM_STRING] = "string",
};

static const char *
client_typed_param_type_name(int type)
{
    if (type <= 0 || type >= (int)G_N_ELEMENTS(client_typed_param_type_names))
        return client_typed_param_type_names[0];
    return client_typed_param_type_names[type];
}

virTypedParameterPtr
virTypedParamsGet(virTypedParameterPtr params, int nparams, const char *name)
{
    virResetLastError();
    if (!params || !name)
        return NULL;
    for (int i = 0; i < nparams; i++) {
        if (strcmp(params[i].field, name) == 0)
            return &params[i];
    }
    return NULL;
}

/* The parameter @name of @type: 1 with *ret_param set, 0 if absent, -1
 * (error reported) if present with another type. */
static int
client_typed_param_find(virTypedParameterPtr params, int nparams, const char *name,
                        int type, const char *func, virTypedParameterPtr *ret_param)
{
    virTypedParameterPtr param = NULL;

    virResetLastError();
    if (!name) {
        client_error_invalid_arg(NULL, func, "name in %s must not be NULL", func);
        return -1;
    }
    if (!(param = virTypedParamsGet(params, nparams, name)))
        return 0;
    if (param->type != type) {
        client_error_set(VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                         "invalid argument: Invalid type '%s' requested for parameter "
                         "'%s', actual type is '%s'",
                         client_typed_param_type_name(type), name,
                         client_typed_param_type_name(param->type));
        client_error_dispatch(NULL);
        return -1;
    }
    *ret_param = param;
    return 1;
}

#define CLIENT_TYPED_PARAM_GETTER(suffix, ctype, vtype, member) \
    int \
    virTypedParamsGet##suffix(virTypedParameterPtr params, int nparams, \
                              const char *name, ctype *value) \
    { \
        virTypedParameterPtr param = NULL; \
        int rc = client_typed_param_find(params, nparams, name, vtype, __func__, &param); \
        if (rc == 1 && value) \
            *value = param->value.member; \
        return rc; \
    }

CLIENT_TYPED_PARAM_GETTER(Int, int, VIR_TYPED_PARAM_INT, i)
CLIENT_TYPED_PARAM_GETTER(UInt, unsigned int, VIR_TYPED_PARAM_UINT, ui)
CLIENT_TYPED_PARAM_GETTER(LLong, long long, VIR_TYPED_PARAM_LLONG, l)
CLIENT_TYPED_PARAM_GETTER(ULLong, unsigned long long, VIR_TYPED_PARAM_ULLONG, ul)
CLIENT_TYPED_PARAM_GETTER(Double, double, VIR_TYPED_PARAM_DOUBLE, d)
CLIENT_TYPED_PARAM_GETTER(Boolean, int, VIR_TYPED_PARAM_BOOLEAN, b)

int
virTypedParamsGetString(virTypedParameterPtr params, int nparams, const char *name,
                        const char **value)
{
    virTypedParameterPtr param = NULL;
    int rc = client_typed_param_find(params, nparams, name, VIR_TYPED_PARAM_STRING,
                                     __func__, &param);

    if (rc == 1 && value)
        *value = param->value.s;
    return rc;
}

/* A new, zeroed last element of *params named @name, or NULL (error
 * reported).  @unique: refuse a name already present. */
static virTypedParameterPtr
client_typed_param_append(virTypedParameterPtr *params, int *nparams, int *maxparams,
                          const char *name, bool unique, const char *func)
{
    virTypedParameterPtr param = NULL;

    virResetLastError();
    if (!params || !nparams || !maxparams || !name) {
        client_error_invalid_arg(NULL, func, "params, nparams, maxparams and name in %s "
                                 "must not be NULL", func);
        return NULL;
    }
    if (strlen(name) >= VIR_TYPED_PARAM_FIELD_LENGTH) {
        client_error_set(VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                         "invalid argument: Parameter name '%s' too long", name);
        client_error_dispatch(NULL);
        return NULL;
    }
    if (unique && virTypedParamsGet(*params, *nparams, name)) {
        client_error_set(VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                         "invalid argument: Parameter '%s' is already set", name);
        client_error_dispatch(NULL);
        return NULL;
    }
    if (*nparams >= *maxparams) {
        int grow = MAX(*maxparams, 4);

        *params = g_renew(virTypedParameter, *params, *maxparams + grow);
        memset(*params + *maxparams, 0, sizeof(virTypedParameter) * grow);
        *maxparams += grow;
    }
    param = &(*params)[(*nparams)++];
    memset(param, 0, sizeof(*param));
    g_strlcpy(param->field, name, sizeof(param->field));
    return param;
}

#define CLIENT_TYPED_PARAM_ADDER(suffix, ctype, vtype, member, conv) \
    int \
    virTypedParamsAdd##suffix(virTypedParameterPtr *params, int *nparams, \
                              int *maxparams, const char *name, ctype value) \
    { \
        virTypedParameterPtr param = client_typed_param_append(params, nparams, maxparams, \
                                                               name, true, __func__); \
        if (!param) \
            return -1; \
        param->type = vtype; \
        param->value.member = conv; \
        return 0; \
    }

CLIENT_TYPED_PARAM_ADDER(Int, int, VIR_TYPED_PARAM_INT, i, value)
CLIENT_TYPED_PARAM_ADDER(UInt, unsigned int, VIR_TYPED_PARAM_UINT, ui, value)
CLIENT_TYPED_PARAM_ADDER(LLong, long long, VIR_TYPED_PARAM_LLONG, l, value)
CLIENT_TYPED_PARAM_ADDER(ULLong, unsigned long long, VIR_TYPED_PARAM_ULLONG, ul, value)
CLIENT_TYPED_PARAM_ADDER(Double, double, VIR_TYPED_PARAM_DOUBLE, d, value)
CLIENT_TYPED_PARAM_ADDER(Boolean, int, VIR_TYPED_PARAM_BOOLEAN, b, !!value)
CLIENT_TYPED_PARAM_ADDER(String, const char *, VIR_TYPED_PARAM_STRING, s,
                         g_strdup(value ? value : ""))

int
virTypedParamsAddStringList(virTypedParameterPtr *params, int *nparams, int *maxparams,
                            const char *name, const char **values)
{
    for (size_t i = 0; values && values[i]; i++) {
        virTypedParameterPtr param = client_typed_param_append(params, nparams, maxparams,
                                                               name, false, __func__);
        if (!param)
            return -1;
        param->type = VIR_TYPED_PARAM_STRING;
        param->value.s = g_strdup(values[i]);
    }
    return 0;
}

/* Parse @text as @type into @param->value; false if it does not fit. */
static bool
client_typed_param_parse(virTypedParameterPtr param, int type, const char *text)
{
    char *end = NULL;

    errno = 0;
    switch (type) {
    case VIR_TYPED_PARAM_INT: {
        long long v = strtoll(text, &end, 10);
        if (v < G_MININT || v > G_MAXINT)
            return false;
        param->value.i = (int)v;
        break;
    }
    case VIR_TYPED_PARAM_UINT: {
        unsigned long long v = strtoull(text, &end, 10);
        if (v > G_MAXUINT || strchr(text, '-'))
            return false;
        param->value.ui = (unsigned int)v;
        break;
    }
    case VIR_TYPED_PARAM_LLONG:
        param->value.l = strtoll(text, &end, 10);
        break;
    case VIR_TYPED_PARAM_ULLONG:
        if (strchr(text, '-'))
            return false;
        param->value.ul = strtoull(text, &end, 10);
        break;
    case VIR_TYPED_PARAM_DOUBLE:
        param->value.d = g_ascii_strtod(text, &end);
        break;
    case VIR_TYPED_PARAM_BOOLEAN:
        if (g_ascii_strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0)
            param->value.b = 1;
        else if (g_ascii_strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0)
            param->value.b = 0;
        else
            return false;
        return true;
    case VIR_TYPED_PARAM_STRING:
        param->value.s = g_strdup(text);
        return true;
    default:
        return false;
    }
    return errno == 0 && end != text && *end == '\0';
}

int
virTypedParamsAddFromString(virTypedParameterPtr *params, int *nparams, int *maxparams,
                            const char *name, int type, const char *value)
{
    virTypedParameter parsed = { { 0 } };
    virTypedParameterPtr param = NULL;

    virResetLastError();
    if (!value || type < VIR_TYPED_PARAM_INT || type > VIR_TYPED_PARAM_STRING ||
        !client_typed_param_parse(&parsed, type, value)) {
        client_error_set(VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                         "invalid argument: Invalid value for parameter '%s': '%s'",
                         name ? name : "(null)", value ? value : "(null)");
        client_error_dispatch(NULL);
        return -1;
    }
    if (!(param = client_typed_param_append(params, nparams, maxparams, name, true,
                                            __func__))) {
        if (type == VIR_TYPED_PARAM_STRING)
            g_free(parsed.value.s);
        return -1;
    }
    param->type = type;
    param->value = parsed.value;
    return 0;
}

void
virTypedParamsClear(virTypedParameterPtr params, int nparams)
{
    if (!params)
        return;
    for (int i = 0; i < nparams; i++) {
        if (params[i].type == VIR_TYPED_PARAM_STRING)
            g_clear_pointer(&params[i].value.s, g_free);
    }
}

void
virTypedParamsFree(virTypedParameterPtr params, int nparams)
{
    virTypedParamsClear(params, nparams);
    g_free(params);
}

bool
client_typed_params_to_wire(const virTypedParameter *params, int nparams, int max,
                            RemoteTypedParam **ret_params, guint *ret_len, GError **error)
{
    g_autofree RemoteTypedParam *wire = NULL;

    if (nparams < 0 || (nparams > 0 && !params)) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                       "invalid argument: nparams must be a valid size");
        return false;
    }
    if (nparams > max) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                       "too many parameters: %d > %d", nparams, max);
        return false;
    }
    wire = g_new0(RemoteTypedParam, MAX(nparams, 1));
    for (int i = 0; i < nparams; i++) {
        const virTypedParameter *p = &params[i];
        RemoteTypedParamValue *v = &wire[i].value;

        /* borrowed strings: the caller's array outlives the call */
        wire[i].field = (char *)p->field;
        v->type = p->type;
        switch (p->type) {
        case VIR_TYPED_PARAM_INT:
            v->u.i = p->value.i;
            break;
        case VIR_TYPED_PARAM_UINT:
            v->u.ui = p->value.ui;
            break;
        case VIR_TYPED_PARAM_LLONG:
            v->u.l = p->value.l;
            break;
        case VIR_TYPED_PARAM_ULLONG:
            v->u.ul = p->value.ul;
            break;
        case VIR_TYPED_PARAM_DOUBLE:
            v->u.d = p->value.d;
            break;
        case VIR_TYPED_PARAM_BOOLEAN:
            v->u.b = p->value.b;
            break;
        case VIR_TYPED_PARAM_STRING:
            if (!p->value.s) {
                util_error_set(error, VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                               "invalid argument: parameter '%s' has a NULL string", p->field);
                return false;
            }
            v->u.s = p->value.s;
            break;
        default:
            util_error_set(error, VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                           "invalid argument: unknown parameter type %d for '%s'",
                           p->type, p->field);
            return false;
        }
    }
    *ret_params = g_steal_pointer(&wire);
    *ret_len = (guint)nparams;
    return true;
}
