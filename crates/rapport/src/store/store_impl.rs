//! The `Store` trait's implementation both backends share, generated per backend by a macro.

/// Generates a backend's `Store` impl: reads run the shared queries on its pool; the backend
/// supplies `migrate_schema` and `begin_tx`.
macro_rules! store_impl {
    ($store:ty, $name:literal) => {
        #[async_trait::async_trait]
        impl crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn migrate(&self) -> StoreResult<()> {
                self.migrate_schema().await
            }

            async fn begin(&self) -> StoreResult<Box<dyn crate::store::WriteTx>> {
                self.begin_tx().await
            }

            async fn customer(&self, external_id: &crate::domain::ExternalId) -> StoreResult<Option<CustomerRecord>> {
                customer_by_external_id(&self.pool, external_id.as_str()).await
            }

            async fn list_customers(&self, filter: &CustomerFilter) -> StoreResult<Vec<CustomerRecord>> {
                list_customers(&self.pool, filter).await
            }

            async fn events_of(&self, customer: CustomerId) -> StoreResult<Vec<StoredEvent>> {
                events_of(&self.pool, customer).await
            }

            async fn funnel_rows(&self) -> StoreResult<Vec<FunnelRow>> {
                funnel_rows(&self.pool).await
            }

            async fn event_count(&self) -> StoreResult<u64> {
                event_count(&self.pool).await
            }

            async fn purchase_log(&self) -> StoreResult<Vec<(String, i64, i64)>> {
                purchase_log(&self.pool).await
            }

            async fn save_fit(&self, fit: &crate::store::FitRecord) -> StoreResult<i64> {
                save_fit(&self.pool, fit).await
            }

            async fn latest_fit(&self) -> StoreResult<Option<crate::store::FitRecord>> {
                latest_fit(&self.pool).await
            }

            async fn score(&self, customer: CustomerId) -> StoreResult<Option<crate::domain::score::ScoreRow>> {
                score_of(&self.pool, customer).await
            }

            async fn customer_with_score(
                &self,
                external_id: &crate::domain::ExternalId,
            ) -> StoreResult<Option<crate::store::CustomerListItem>> {
                let sql = crate::store::sql::customer_with_score_sql();
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(external_id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(list_item_from_row).transpose()
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn dashboard_figures(
                &self,
                calendar: &crate::domain::calendar::Calendar,
            ) -> StoreResult<crate::store::DashboardFigures> {
                dashboard_figures(&self.pool, calendar).await
            }

            async fn query_customers(
                &self,
                query: &crate::store::CustomerQuery,
            ) -> StoreResult<Vec<crate::store::CustomerListItem>> {
                query_customers(&self.pool, query).await
            }

            async fn count_customers(&self, query: &crate::store::CustomerQuery, at_most: u64) -> StoreResult<u64> {
                count_customers(&self.pool, query, at_most).await
            }

            async fn create_api_key(
                &self,
                name: &str,
                role: crate::domain::Role,
                prefix: &str,
                key_hash: &str,
                now: i64,
            ) -> StoreResult<i64> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO api_keys (name, role, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(name)
                .bind(role.as_str())
                .bind(prefix)
                .bind(key_hash)
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
                Ok(id)
            }

            async fn api_key(&self, key_hash: &str) -> StoreResult<Option<crate::store::ApiKeyRecord>> {
                let sql = format!("{} WHERE key_hash = $1 AND revoked_at IS NULL", crate::store::sql::API_KEY_SELECT);
                let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key_hash).fetch_optional(&self.pool).await?;
                row.as_ref().map(api_key_from_row).transpose()
            }

            async fn api_keys(&self) -> StoreResult<Vec<crate::store::ApiKeyRecord>> {
                let sql = format!("{} ORDER BY id", crate::store::sql::API_KEY_SELECT);
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                rows.iter().map(api_key_from_row).collect()
            }

            async fn revoke_api_key(&self, id: i64, now: i64) -> StoreResult<bool> {
                // The revocation and the generation's step commit together: a server that sees
                // the new generation finds the key revoked.
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let revoked = done.rows_affected() == 1;
                if revoked {
                    sqlx::query("UPDATE key_revocations SET generation = generation + 1 WHERE id = 1")
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(revoked)
            }

            async fn key_revocations(&self) -> StoreResult<i64> {
                let generation = sqlx::query_scalar("SELECT generation FROM key_revocations WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(generation)
            }

            async fn create_user(
                &self,
                email: &str,
                role: crate::domain::Role,
                password_hash: &str,
                now: i64,
            ) -> StoreResult<i64> {
                sqlx::query_scalar(
                    "INSERT INTO users (email, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(email.trim().to_lowercase())
                .bind(role.as_str())
                .bind(password_hash)
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| conflict(e, || format!("a user with e-mail '{email}' exists already")))
            }

            async fn user_by_email(&self, email: &str) -> StoreResult<Option<crate::store::UserRecord>> {
                let row = sqlx::query("SELECT id, email, role, password_hash, created_at FROM users WHERE email = $1")
                    .bind(email.trim().to_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(user_from_row).transpose()
            }

            async fn create_session(
                &self,
                token_hash: &str,
                user_id: i64,
                csrf_token: &str,
                now: i64,
                expires_at: i64,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token_hash)
                .bind(user_id)
                .bind(csrf_token)
                .bind(now)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session(&self, token_hash: &str, now: i64) -> StoreResult<Option<crate::store::SessionRecord>> {
                let row = sqlx::query(
                    "SELECT u.id, u.email, u.role, u.password_hash, u.created_at, s.csrf_token, s.expires_at \
                     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(crate::store::SessionRecord {
                    user: user_from_row(&row)?,
                    csrf_token: row.try_get("csrf_token")?,
                    expires_at: row.try_get("expires_at")?,
                }))
            }

            async fn delete_session(&self, token_hash: &str, now: i64) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2")
                    .bind(token_hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn stored_response(
                &self,
                api_key_id: i64,
                idem_key: &str,
            ) -> StoreResult<Option<crate::store::StoredResponse>> {
                let row: Option<(String, i64, String)> = sqlx::query_as(
                    "SELECT request_hash, status, body FROM idempotency_keys WHERE api_key_id = $1 AND idem_key = $2",
                )
                .bind(api_key_id)
                .bind(idem_key)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(request_hash, status, body)| crate::store::StoredResponse {
                    request_hash,
                    status: status.clamp(100, 599) as u16,
                    body,
                }))
            }

            async fn save_response(
                &self,
                api_key_id: i64,
                idem_key: &str,
                response: &crate::store::StoredResponse,
                now: i64,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO idempotency_keys (api_key_id, idem_key, request_hash, status, body, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (api_key_id, idem_key) DO NOTHING",
                )
                .bind(api_key_id)
                .bind(idem_key)
                .bind(&response.request_hash)
                .bind(i64::from(response.status))
                .bind(&response.body)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn create_webhook(&self, subscription: &crate::store::NewSubscription) -> StoreResult<i64> {
                outbox_sql::create(&self.pool, subscription).await
            }

            async fn webhooks(&self) -> StoreResult<Vec<crate::store::SubscriptionRecord>> {
                outbox_sql::list(&self.pool, None).await
            }

            async fn webhook(&self, id: i64) -> StoreResult<Option<crate::store::SubscriptionRecord>> {
                Ok(outbox_sql::list(&self.pool, Some(id)).await?.pop())
            }

            async fn delete_webhook(&self, id: i64, now: i64) -> StoreResult<bool> {
                outbox_sql::delete(&self.pool, id, now).await
            }

            async fn webhook_deliveries(
                &self,
                page: crate::store::DeliveryPage,
            ) -> StoreResult<Vec<crate::store::DeliveryRecord>> {
                outbox_sql::deliveries(&self.pool, page).await
            }

            async fn claim_webhook_deliveries(
                &self,
                claim: &crate::store::Claim,
            ) -> StoreResult<Vec<crate::store::ClaimedDelivery>> {
                outbox_sql::claim(&self.pool, claim).await
            }

            async fn record_webhook_attempt(&self, result: &crate::store::AttemptResult) -> StoreResult<()> {
                outbox_sql::record(&self.pool, result).await
            }

            async fn redeliver_webhook(&self, subscription: i64, delivery: i64, now_ms: i64) -> StoreResult<bool> {
                outbox_sql::redeliver(&self.pool, subscription, delivery, now_ms).await
            }

            fn outbox_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
                self.outbox_signal.clone()
            }
        }
    };
}

pub(crate) use store_impl;
