//! Store conformance suite: every case runs against SQLite and PostgreSQL (see `harness`).
//!
//! `cargo test -p paygate-store --test conformance`; set `PAYGATE_TEST_POSTGRES_URL` (and
//! `PAYGATE_REQUIRE_POSTGRES=1` in CI) to include PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alerts;
mod constraints;
mod deliveries;
mod fixtures;
mod harness;
mod idempotent_orders;
mod keys;
mod lookups;
mod notified;
mod order_filters;
mod orders;
mod payments;
mod reconcile;
mod refunds;
mod repos;
mod secrets;
mod seed;
mod sessions;

harness::conformance! {
    keys::migrations_apply,
    keys::payment_time_index_holds_paid_orders_only,
    keys::foreign_keys_are_enforced,
    keys::a_different_master_key_is_refused,
    keys::rotation_rewraps_data_keys,
    keys::ciphertexts_cannot_move,
    keys::unknown_tenants_are_not_found,
    constraints::unique_constraints_are_named_conflicts,
    constraints::tenants_cannot_reach_each_other,
    repos::operators_lifecycle,
    repos::tenants_lifecycle,
    secrets::channel_versions,
    secrets::api_keys_lifecycle,
    secrets::webhooks_lifecycle,
    repos::writes_are_audited_without_secrets,
    orders::order_transitions_are_compare_and_set,
    orders::order_creation_is_validated,
    orders::pagination_has_no_gaps_or_duplicates,
    orders::stats_sum_per_day,
    orders::activity_lists,
    order_filters::orders_filter_by_payer_and_app,
    payments::notify_transaction_commits_together,
    payments::prepay_and_payer_rules,
    payments::prepay_from_an_out_of_date_copy,
    notified::notified_transitions_commit_whole_or_not_at_all,
    alerts::alerts_are_raised_once_per_dedupe_key,
    refunds::concurrent_refunds_never_exceed_paid,
    refunds::refund_states_carry_the_order,
    refunds::abnormal_then_success_cannot_overrun,
    reconcile::stale_orders_are_claimed_once,
    reconcile::processing_refunds_are_claimed_once,
    sessions::users_upsert_and_stay_in_their_tenant,
    sessions::idempotency_claims,
    idempotent_orders::idempotent_creates_commit_once,
    idempotent_orders::refused_idempotent_creates_leave_nothing,
    idempotent_orders::idempotent_creates_adopt_a_crashed_runs_order,
    idempotent_orders::concurrent_idempotent_creates_create_one_order,
    sessions::notify_channel_lookups,
    lookups::cached_lookups_follow_changes_made_through_the_store,
    lookups::cached_channels_stay_in_their_tenant,
    lookups::other_instances_see_changes_within_the_time_to_live,
    deliveries::attempts_are_recorded_in_batches,
}
