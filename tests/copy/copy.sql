create table ct (id int primary key, t text, n numeric, d date, b boolean);
insert into ct values (1, 'plain', 1.50, '2024-01-02', true), (2, E'tab\there\nnew "q" ,comma\\back', null, null, false), (3, '', -2, '1999-12-31', null);
copy ct to stdout;
copy ct to stdout with (format csv, header);
copy ct (t, id) to stdout with csv header delimiter ';' null 'NULL';
copy ct to stdout with (format csv, force_quote *);
copy ct to stdout (format csv, force_quote (t), quote '''', escape '\');
copy (select id, t from ct where id > 1 order by id) to stdout with csv;
copy (values (1, 'x'), (2, null)) to stdout;
copy ct to stdout with (format text, header true, delimiter '|');
copy nosuch to stdout;
copy ct (nosuch) to stdout;
copy ct to stdout with (format binary, header);
copy ct to stdout (delimiter 'ab');
copy ct to stdout (quote 'x');
\copy ct to '@DIR@/out.csv' csv header
\copy (select t from ct order by id) to '@DIR@/out2.txt'
create table ct2 (id int, t text, n numeric, d date, b boolean);
\copy ct2 from '@DIR@/out.csv' csv header
select * from ct2 order by id;
create table cb (a int not null, b text);
copy cb from stdin with csv;
1,x
abc,y
\.
copy cb from stdin with csv;
1,x,z
\.
copy cb from stdin;
5
\.
copy cb from stdin (format csv);
,nn
\.
copy cb from stdin (format csv);
7,"multi
line"
\.
select * from cb;
copy cb to stdout (format csv, delimiter 'ab');
\copy ct to '@DIR@/ct.bin' binary
create table ct3 (id int, t text, n numeric, d date, b boolean);
\copy ct3 from '@DIR@/ct.bin' binary
select count(*), sum(id), string_agg(t, '/' order by id) from ct3;
-- Buffered rows: a duplicate key is reported at its line, unless a later row of the
-- same buffer fails to convert or violates a CHECK first (then nothing is inserted).
create table cu (id int primary key, v text check (v <> 'bad'));
copy cu from stdin;
1	a
2	b
1	c
3	d
\.
copy cu from stdin;
1	a
2	b
1	c
x	d
\.
copy cu from stdin;
1	a
1	b
3	bad
\.
copy cu from stdin;
10	a
11	b
\.
copy cu from stdin;
12	c
10	again
\.
select * from cu order by id;
copy cb from stdin (format binary);
