//! The entities under short names.

pub use crate::api_token::Entity as ApiToken;
pub use crate::app_secret::Entity as AppSecret;
pub use crate::auth_session::Entity as AuthSession;
pub use crate::catalog_version::Entity as CatalogVersion;
pub use crate::channel::Entity as Channel;
pub use crate::collection::Entity as Collection;
pub use crate::collection_product::Entity as CollectionProduct;
pub use crate::customer::Entity as Customer;
pub use crate::customer_address::Entity as CustomerAddress;
pub use crate::customer_group::Entity as CustomerGroup;
pub use crate::media::Entity as Media;
pub use crate::password_reset::Entity as PasswordReset;
pub use crate::product::Entity as Product;
pub use crate::product_option::Entity as ProductOption;
pub use crate::product_option_value::Entity as ProductOptionValue;
pub use crate::product_tag::Entity as ProductTag;
pub use crate::refresh_token::Entity as RefreshToken;
pub use crate::staff_user::Entity as StaffUser;
pub use crate::stock_level::Entity as StockLevel;
pub use crate::stock_location::Entity as StockLocation;
pub use crate::variant::Entity as Variant;
pub use crate::variant_option_value::Entity as VariantOptionValue;
pub use crate::variant_price::Entity as VariantPrice;
