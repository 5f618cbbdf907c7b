/* server/lua_struct.c — stub */
#include "server/lua_libs.h"
#include <lua.h>
int luaopen_struct(lua_State *L) { lua_newtable(L); return 1; }
