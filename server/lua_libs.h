/* server/lua_libs.h — the Lua libraries darter writes itself because Debian
 * does not package them for Lua 5.1: cmsgpack (lua_cmsgpack.c) and struct
 * (lua_struct.c), with Redis's behaviour. Each returns its table. */
#ifndef DARTER_SERVER_LUA_LIBS_H
#define DARTER_SERVER_LUA_LIBS_H

typedef struct lua_State lua_State;

int luaopen_cmsgpack(lua_State *L);
int luaopen_struct(lua_State *L);

#endif
