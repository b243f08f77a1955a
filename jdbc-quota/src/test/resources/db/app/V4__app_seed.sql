INSERT INTO app_user (email) VALUES ('alice@example.org');
