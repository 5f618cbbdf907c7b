/* server/lua_cmsgpack.c — stub */
#include "server/lua_libs.h"
#include <lua.h>
int luaopen_cmsgpack(lua_State *L) { lua_newtable(L); return 1; }
