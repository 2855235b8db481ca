/* Migrations compiled in from schema/NNN_name.sql (build/schema_embed.c). */
#ifndef ESIA_MIGRATE_H
#define ESIA_MIGRATE_H

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const int n_migrations;

#endif
