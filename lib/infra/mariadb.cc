#include "infra/mariadb.h"

#include <mysql.h>

#include <cstring>
#include <memory>

namespace cartgate::mariadb {
namespace {

[[noreturn]] void fail(MYSQL* db, const std::string& doing) {
  throw error(doing + ": " + mysql_error(db), mysql_errno(db));
}

[[noreturn]] void fail(MYSQL_STMT* st, const std::string& doing) {
  throw error(doing + ": " + mysql_stmt_error(st), mysql_stmt_errno(st));
}

struct statement_closer {
  void operator()(MYSQL_STMT* st) const { mysql_stmt_close(st); }
};
using statement = std::unique_ptr<MYSQL_STMT, statement_closer>;

// Prepares sql and binds params as strings; the binds point into `params`, which must
// outlive the execution.
statement prepare(MYSQL* db, std::string_view sql, const std::vector<value>& params,
                  std::vector<MYSQL_BIND>& binds, std::vector<unsigned long>& lengths,
                  std::vector<my_bool>& nulls) {
  statement st(mysql_stmt_init(db));
  if (!st) fail(db, "mysql_stmt_init");
  if (mysql_stmt_prepare(st.get(), sql.data(), sql.size()) != 0) fail(st.get(), "prepare");
  if (mysql_stmt_param_count(st.get()) != params.size()) {
    throw error("statement expects " + std::to_string(mysql_stmt_param_count(st.get())) + " parameters, got " +
                    std::to_string(params.size()),
                0);
  }
  binds.assign(params.size(), MYSQL_BIND{});
  lengths.assign(params.size(), 0);
  nulls.assign(params.size(), 0);
  for (std::size_t i = 0; i < params.size(); ++i) {
    binds[i].buffer_type = MYSQL_TYPE_STRING;
    if (params[i]) {
      binds[i].buffer = const_cast<char*>(params[i]->data());
      lengths[i] = params[i]->size();
      binds[i].buffer_length = lengths[i];
    } else {
      nulls[i] = 1;
    }
    binds[i].length = &lengths[i];
    binds[i].is_null = &nulls[i];
  }
  if (!params.empty() && mysql_stmt_bind_param(st.get(), binds.data()) != 0) fail(st.get(), "bind");
  return st;
}

}  // namespace

connection::connection(const settings& s) : db_(mysql_init(nullptr)) {
  if (db_ == nullptr) throw error("mysql_init: out of memory", 0);
  unsigned timeout = s.connect_timeout;
  mysql_optionsv(db_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(db_, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_optionsv(db_, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  mysql_optionsv(db_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  const char* host = s.socket.empty() ? s.host.c_str() : "localhost";
  const char* sock = s.socket.empty() ? nullptr : s.socket.c_str();
  if (mysql_real_connect(db_, host, s.user.c_str(), s.password.c_str(), s.database.c_str(),
                         s.socket.empty() ? s.port : 0, sock, 0) == nullptr) {
    std::string message = std::string("cannot connect to WordPress's database: ") + mysql_error(db_);
    unsigned code = mysql_errno(db_);
    mysql_close(db_);
    throw error(message, code);
  }
}

connection::~connection() { mysql_close(db_); }

std::vector<row> connection::query(std::string_view sql, const std::vector<value>& params) {
  std::vector<MYSQL_BIND> binds;
  std::vector<unsigned long> lengths;
  std::vector<my_bool> nulls;
  auto st = prepare(db_, sql, params, binds, lengths, nulls);
  if (mysql_stmt_execute(st.get()) != 0) fail(st.get(), "execute");
  // Every column as text, each buffer sized by the longest value of the result.
  my_bool update_max = 1;
  mysql_stmt_attr_set(st.get(), STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
  if (mysql_stmt_store_result(st.get()) != 0) fail(st.get(), "store_result");
  MYSQL_RES* meta = mysql_stmt_result_metadata(st.get());
  if (meta == nullptr) return {};
  unsigned columns = mysql_num_fields(meta);
  MYSQL_FIELD* fields = mysql_fetch_fields(meta);
  std::vector<std::string> buffers(columns);
  std::vector<MYSQL_BIND> out(columns, MYSQL_BIND{});
  std::vector<unsigned long> out_lengths(columns, 0);
  std::vector<my_bool> out_nulls(columns, 0);
  for (unsigned i = 0; i < columns; ++i) {
    buffers[i].resize(std::max<unsigned long>(fields[i].max_length, 1) + 1);
    out[i].buffer_type = MYSQL_TYPE_STRING;
    out[i].buffer = buffers[i].data();
    out[i].buffer_length = buffers[i].size();
    out[i].length = &out_lengths[i];
    out[i].is_null = &out_nulls[i];
  }
  mysql_free_result(meta);
  if (mysql_stmt_bind_result(st.get(), out.data()) != 0) fail(st.get(), "bind_result");
  std::vector<row> rows;
  while (true) {
    int rc = mysql_stmt_fetch(st.get());
    if (rc == MYSQL_NO_DATA) break;
    if (rc == 1) fail(st.get(), "fetch");
    // MYSQL_DATA_TRUNCATED cannot happen: the buffers hold the longest value.
    row r(columns);
    for (unsigned i = 0; i < columns; ++i) {
      if (!out_nulls[i]) r[i] = std::string(buffers[i].data(), out_lengths[i]);
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::uint64_t connection::execute(std::string_view sql, const std::vector<value>& params) {
  std::vector<MYSQL_BIND> binds;
  std::vector<unsigned long> lengths;
  std::vector<my_bool> nulls;
  auto st = prepare(db_, sql, params, binds, lengths, nulls);
  if (mysql_stmt_execute(st.get()) != 0) fail(st.get(), "execute");
  return mysql_stmt_affected_rows(st.get());
}

}  // namespace cartgate::mariadb
