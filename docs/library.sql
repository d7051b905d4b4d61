-- A small library database, as a user's own (docs/BENCHMARKS.md, session 35): never seen by
-- any benchmark or prompt of honestsql. Build it with
--   python -c "import sqlite3; sqlite3.connect('library.sqlite').executescript(open('docs/library.sql').read())"
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT, birth_year INTEGER);
INSERT INTO "authors" VALUES(1,'Ursula K. Le Guin','USA',1929);
INSERT INTO "authors" VALUES(2,'Terry Pratchett','UK',1948);
INSERT INTO "authors" VALUES(3,'Haruki Murakami','Japan',1949);
INSERT INTO "authors" VALUES(4,'Chimamanda Ngozi Adichie','Nigeria',1977);
INSERT INTO "authors" VALUES(5,'Italo Calvino','Italy',1923);
INSERT INTO "authors" VALUES(6,'Octavia E. Butler','USA',1947);
INSERT INTO "authors" VALUES(7,'Jorge Luis Borges','Argentina',1899);
INSERT INTO "authors" VALUES(8,'Tove Jansson','Finland',1914);
CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER REFERENCES authors(id),
                    year INTEGER, genre TEXT, pages INTEGER);
INSERT INTO "books" VALUES(1,'A Wizard of Earthsea',1,1968,'fantasy',183);
INSERT INTO "books" VALUES(2,'The Left Hand of Darkness',1,1969,'science fiction',286);
INSERT INTO "books" VALUES(3,'The Dispossessed',1,1974,'science fiction',387);
INSERT INTO "books" VALUES(4,'The Tombs of Atuan',1,1970,'fantasy',163);
INSERT INTO "books" VALUES(5,'Guards! Guards!',2,1989,'fantasy',288);
INSERT INTO "books" VALUES(6,'Small Gods',2,1992,'fantasy',284);
INSERT INTO "books" VALUES(7,'Mort',2,1987,'fantasy',243);
INSERT INTO "books" VALUES(8,'Norwegian Wood',3,1987,'literary',296);
INSERT INTO "books" VALUES(9,'Kafka on the Shore',3,2002,'literary',505);
INSERT INTO "books" VALUES(10,'Half of a Yellow Sun',4,2006,'literary',433);
INSERT INTO "books" VALUES(11,'Americanah',4,2013,'literary',477);
INSERT INTO "books" VALUES(12,'Invisible Cities',5,1972,'literary',165);
INSERT INTO "books" VALUES(13,'If on a Winter''s Night a Traveler',5,1979,'literary',260);
INSERT INTO "books" VALUES(14,'Kindred',6,1979,'science fiction',264);
INSERT INTO "books" VALUES(15,'Parable of the Sower',6,1993,'science fiction',345);
INSERT INTO "books" VALUES(16,'Ficciones',7,1944,'short stories',174);
INSERT INTO "books" VALUES(17,'The Aleph',7,1949,'short stories',146);
INSERT INTO "books" VALUES(18,'Finn Family Moomintroll',8,1948,'children',170);
INSERT INTO "books" VALUES(19,'Comet in Moominland',8,1946,'children',192);
INSERT INTO "books" VALUES(20,'The Summer Book',8,1972,'literary',172);
CREATE TABLE loans (id INTEGER PRIMARY KEY, book_id INTEGER REFERENCES books(id),
                    member_id INTEGER REFERENCES members(id), loaned DATE, returned DATE);
INSERT INTO "loans" VALUES(1,1,1,'2024-01-05','2024-01-19');
INSERT INTO "loans" VALUES(2,5,1,'2024-01-20','2024-02-02');
INSERT INTO "loans" VALUES(3,8,2,'2024-02-01','2024-02-20');
INSERT INTO "loans" VALUES(4,1,3,'2024-02-03','2024-02-10');
INSERT INTO "loans" VALUES(5,14,3,'2024-03-11',NULL);
INSERT INTO "loans" VALUES(6,9,2,'2024-03-15','2024-04-01');
INSERT INTO "loans" VALUES(7,6,4,'2024-04-02','2024-04-16');
INSERT INTO "loans" VALUES(8,11,5,'2024-04-20',NULL);
INSERT INTO "loans" VALUES(9,5,6,'2024-05-05','2024-05-25');
INSERT INTO "loans" VALUES(10,18,1,'2024-05-07','2024-05-21');
INSERT INTO "loans" VALUES(11,2,4,'2024-06-01',NULL);
INSERT INTO "loans" VALUES(12,16,6,'2024-06-10','2024-06-28');
INSERT INTO "loans" VALUES(13,12,3,'2024-07-01','2024-07-15');
INSERT INTO "loans" VALUES(14,7,2,'2024-07-03',NULL);
INSERT INTO "loans" VALUES(15,1,5,'2024-08-08','2024-08-20');
CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, joined DATE);
INSERT INTO "members" VALUES(1,'Ana Silva','Lisbon','2021-03-14');
INSERT INTO "members" VALUES(2,'Ben Okafor','Leeds','2022-07-01');
INSERT INTO "members" VALUES(3,'Chen Wei','Leeds','2020-11-20');
INSERT INTO "members" VALUES(4,'Dana Cohen','York','2023-01-09');
INSERT INTO "members" VALUES(5,'Emil Berg','Lisbon','2024-05-30');
INSERT INTO "members" VALUES(6,'Fatima Zahra','York','2022-02-17');
