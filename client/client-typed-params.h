/*
 * client-typed-params.h: typed parameters on the wire.
 */
#pragma once

#include "client-internal.h"
#include "util-error.h"

/* The wire form of @params: a new array whose strings are borrowed from
 * @params (free the array only, with g_free).  At most @max entries. */
bool client_typed_params_to_wire(const virTypedParameter *params, int nparams, int max,
                                 RemoteTypedParam **ret_params, guint *ret_len,
                                 GError **error);
