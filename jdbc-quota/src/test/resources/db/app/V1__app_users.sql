-- An application's own first migration, as any Flyway project has one.
CREATE TABLE app_user (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE);
